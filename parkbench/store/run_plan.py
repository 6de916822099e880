"""A run's plan as its run file stores it (``parameters``): each field defined once, here,
with the form it is stored in, the shape its reader checks, what runs that did not store
it ran with, and what it means (the docs' table is made from these definitions:
``docs_table``).

``StoredPlan.from_document`` reads a stored plan back (``--resume``), ``as_parameters``
writes one, ``check_shapes`` is the results reader's check of a run file's parameters.
What the values *mean* (a registered model, a budget within the memory available) is
the measurement layer's to check (``measurement/plan.py``'s ``RunPlan``, which adds the
command line and the rules to these fields). The served rate's objective is defined
here once: its default (``DEFAULT_SLO_SECONDS``) and its range (``slo_problem``).
"""

import dataclasses
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from parkbench.core.errors import UserError
from parkbench.core.units import is_finite_number
from parkbench.store import map_check_schema
from parkbench.store.checker import Checker

DEFAULT_SLO_SECONDS = 0.005     # the p99 latency a served rate (and a map check) must keep
MAX_SLO_SECONDS = 10.0
REQUIRED = object()             # stored by every run: no value for a run without it


def slo_problem(value) -> str | None:
    """Why ``value`` is not an SLO (a number of seconds in (0, ``MAX_SLO_SECONDS``]), or
    ``None``: the one rule, for the command line, a stored plan and the served figures."""
    if not is_finite_number(value) or isinstance(value, bool) or not 0 < value <= MAX_SLO_SECONDS:
        return f"the SLO must be in (0, {MAX_SLO_SECONDS:g}] seconds, not {value!r}"
    return None


# --- shapes: what the reader checks of a stored value (its meaning is the plan's) -------


def _flag(check: Checker, value, where: str) -> None:
    check.flag(value, where)


def _whole(low: float = 0, high: float = 2**63):
    def shape(check: Checker, value, where: str) -> None:
        check.number(value, where, low, high, integer=True)
    return shape


def _number(low: float = 0, high: float = math.inf):
    def shape(check: Checker, value, where: str) -> None:
        check.number(value, where, low, high)
    return shape


def _text(limit: int, optional: bool = False):
    def shape(check: Checker, value, where: str) -> None:
        check.text(value, where, optional=optional, limit=limit)
    return shape


def _texts(check: Checker, value, where: str) -> None:
    for item in check.list(value, where):
        check.text(item, where, limit=64)


def _pairs(check: Checker, value, where: str) -> None:
    for item in check.list(value, where):
        if not isinstance(item, list) or len(item) != 2:
            check.fail(where, "must hold [model, variant] pairs")
        for name in item:
            check.text(name, where, limit=64)


def _grids(check: Checker, value, where: str) -> None:
    check.dict(value, where)
    for key, grid in value.items():
        model, _, variant = str(key).partition(":")
        check.name(model, f"{where} key")
        check.name(variant or None, f"{where} key", optional=True)
        for n in check.list(grid, f"{where}.{key}"):
            check.number(n, f"{where}.{key}", 0, 2**63, integer=True)


def _names_by_model(optional: bool = False):
    def shape(check: Checker, value, where: str) -> None:
        if value is None and optional:
            return
        check.dict(value, where)
        for model, names in value.items():
            check.name(model, f"{where} key")
            _texts(check, names, f"{where}.{model}")
    return shape


def _counts_by_model(check: Checker, value, where: str) -> None:
    if value is None:
        return
    check.dict(value, where)
    for model, count in value.items():
        check.name(model, f"{where} key")
        check.number(count, f"{where}.{model}", 0, 2**63, integer=True)


def _object(check: Checker, value, where: str) -> None:
    if value is not None:
        check.dict(value, where)


def _slo(check: Checker, value, where: str) -> None:
    problem = slo_problem(value)
    if problem:
        check.fail(where, problem.replace("the SLO must be", "must be"))


def _map_checks(check: Checker, value, where: str) -> None:
    if value is not None:
        map_check_schema.check(value, lambda rule: check.fail(where, rule))


# --- the fields --------------------------------------------------------------------------


def _same(value):
    return value


def _never(value) -> bool:
    return False


@dataclass(frozen=True)
class Stored:
    """How one field of the plan is stored."""

    doc: str
    shape: Callable[[Checker, Any, str], None]
    absent: Any = REQUIRED                       # what a run that did not store it ran with
    load: Callable[[Any], Any] = _same           # stored form -> the plan's value
    dump: Callable[[Any], Any] = _same           # the plan's value -> stored form
    omit: Callable[[Any], bool] = _never         # not stored at all when true


def stored(doc: str, shape, absent=REQUIRED, load=_same, dump=_same, omit=_never, default=REQUIRED):
    """A plan field, stored: ``default`` is its value when a plan is built without it
    (a required field has none), ``absent`` its value in a run that did not store it."""
    metadata = {"stored": Stored(doc, shape, absent, load, dump, omit)}
    if default is REQUIRED:
        return dataclasses.field(metadata=metadata)
    if isinstance(default, dict):
        return dataclasses.field(default_factory=dict, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def _tuple_of_names(value) -> tuple:
    return tuple(dict.fromkeys(value))     # each once, in order


def _names_map(value) -> dict:
    return {str(model): _tuple_of_names(names) for model, names in value.items()}


def _grid_map(value) -> dict:
    return {str(key): tuple(grid) for key, grid in (value or {}).items()}


def _listed_map(value) -> dict:
    return {key: list(items) for key, items in value.items()}


@dataclass(frozen=True, kw_only=True)
class StoredPlan:
    """The fields of a run's plan, in the order a run file stores them."""

    full: bool = stored("the full sweep (`--full`)", _flag, absent=False, default=False)
    selection: tuple[tuple[str, str], ...] = stored(
        "[model, variant] pairs, each once", _pairs,
        load=lambda value: tuple(dict.fromkeys((str(m), str(v)) for m, v in value)),
        dump=lambda value: [list(item) for item in value])
    grids: Mapping[str, tuple[int, ...]] = stored(
        "`\"model:variant\"` → list of N (1 to 10⁹)", _grids, load=_grid_map, dump=_listed_map)
    repeat: int = stored("fresh children per N (1-100)", _whole(), default=1)
    timeout_seconds: float = stored("seconds per probe child", _number())
    memory: bool = stored("memory was measured", _flag, default=True)
    latency: bool = stored("hand-off latency was measured", _flag, default=True)
    latency_mode: str = stored("`quick` or `rigorous` pyperf settings", _text(32, optional=True),
                               default="quick")
    pyperf_options: tuple[str, ...] = stored(
        "pyperf's options per round (from `latency_mode`)", _texts, absent=(),
        load=tuple, dump=list, default=())
    switch_rounds: int = stored("interleaved rounds per pyperf benchmark (1-10)", _whole(), absent=1, default=1)
    primitives: Mapping[str, tuple[str, ...]] = stored(
        "hand-off primitives timed, per model", _names_by_model(), load=_names_map, dump=_listed_map,
        default={})
    placements: tuple[str, ...] = stored("CPU placements of the hand-off", _texts, load=_tuple_of_names,
                                         dump=list)
    tail_loops: int = stored("round trips timed one by one per tail measurement", _whole())
    tail_placement: str = stored("placement of tail hand-offs (`os`)", _text(32), absent="os",
                                 default="os")
    to_limit: str | None = stored("the model of `--to-limit`, or null", _text(200, optional=True),
                                  absent=None, default=None)
    child_rlimits: str = stored("resource limits lowered in every child (`nofile=64,...`)",
                                _text(4096, optional=True), absent="", load=lambda value: value or "",
                                default="")
    wake_max_n: Mapping[str, int] = stored("largest N whose wake is timed, per model", _counts_by_model,
                                           absent={}, load=lambda value: dict(value or {}), dump=dict,
                                           default={})
    rigorous_primitives: Mapping[str, tuple[str, ...]] | None = stored(
        "with rigorous latency, the primitives given pyperf's `--rigorous` (null: all)",
        _names_by_model(optional=True), absent=None,
        load=lambda value: None if value is None else _names_map(value),
        dump=lambda value: None if value is None else _listed_map(value), default=None)
    memory_budget_bytes: int = stored("largest predicted peak memory of one child", _number())
    memory_floor_bytes: int = stored("the watchdog's floor of available memory", _number())
    guard_margin: float = stored("the guard's margin over its prediction", _number())
    served: bool = stored("the served rate was measured", _flag, absent=False, default=False)
    served_grids: Mapping[str, tuple[int, ...]] = stored(
        "W per `model:variant` of the served rate", _grids, absent={}, load=_grid_map, dump=_listed_map,
        default={})
    served_rounds: int = stored("interleaved rounds of served jobs", _whole(), absent=1, default=1)
    served_settings: Mapping = stored(
        "the load generator's settings (`connections`, `warmup_seconds`, `closed_seconds`, "
        "`step_seconds`, `start_share` of the peak the knee search starts at, `reply_timeout_seconds`)", _object, absent={},
        load=lambda value: dict(value or {}), dump=dict, default={})
    wake_grids: Mapping[str, tuple[int, ...]] = stored(
        "W per `model:variant` whose wake rate is searched (a loop beside W parked)", _grids, absent={},
        load=_grid_map, dump=_listed_map, default={})
    wake_settings: Mapping = stored(
        "the wake search's settings (`start` rate, `step_seconds`, `warmup_seconds`)", _object, absent={},
        load=lambda value: dict(value or {}), dump=dict, default={})
    slo_seconds: float = stored("the served rate's p99 objective (seconds)", _slo,
                                absent=DEFAULT_SLO_SECONDS, default=DEFAULT_SLO_SECONDS)
    map_checks: tuple = stored(
        "the fit map's checked points (`store/map_check_schema.py`), stored only by a run "
        "that checks", _map_checks, absent=(), load=lambda value: map_check_schema.once(value or ()),
        dump=lambda value: [dict(item) for item in value], omit=lambda value: not value, default=())
    python_spec: str | None = stored(
        "with `--python`: the version asked for (never a path), stored only then",
        _text(20, optional=True), absent=None, omit=lambda value: value is None, default=None)

    # --- stored and read back --------------------------------------------------------

    def as_parameters(self) -> dict:
        """The plan as a run file stores it (``parameters``)."""
        found = {}
        for item, meta in _fields():
            value = getattr(self, item.name)
            if not meta.omit(value):
                found[item.name] = meta.dump(value)
        return found

    @classmethod
    def from_document(cls, parameters, source: str):
        """The plan a run file stored (of this class), its shapes checked; a field an
        older run did not store takes the value that run ran with. What the values mean
        is checked by the caller (``measurement.plan.RunPlan.checked``)."""
        if not isinstance(parameters, dict):
            raise UserError(f"{source}: parameters must be an object")
        check_shapes(Checker(source), parameters)
        values = {}
        for item, meta in _fields():
            if item.name in parameters:
                raw = parameters[item.name]
            elif meta.absent is REQUIRED:
                raise UserError(f"{source}: parameters are malformed (no {item.name!r})")
            else:
                raw = meta.absent
            try:
                values[item.name] = meta.load(raw)
            except (TypeError, ValueError, AttributeError) as exc:
                raise UserError(f"{source}: parameters.{item.name} is malformed ({exc})") from None
        return cls(**values)


def _fields():
    return [(item, item.metadata["stored"]) for item in dataclasses.fields(StoredPlan)]


def check_shapes(check: Checker, parameters) -> None:
    """The shapes of a run file's parameters, each present field by its own rule (the
    results reader's check; a field no plan has is left alone: newer runs may add one)."""
    check.dict(parameters, "parameters")
    for item, meta in _fields():
        if item.name in parameters:
            meta.shape(check, parameters[item.name], f"parameters.{item.name}")


def docs_table() -> str:
    """The fields as docs/results-format.md shows them (a test holds the page to it)."""
    lines = ["| field | what it is | a run without it ran with |", "| --- | --- | --- |"]
    for item, meta in _fields():
        absent = ("(every run stores it)" if meta.absent is REQUIRED
                  else f"`{json.dumps(meta.dump(meta.absent), ensure_ascii=False)}`")
        lines.append(f"| `{item.name}` | {meta.doc} | {absent} |")
    return "\n".join(lines)
