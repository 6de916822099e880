"""A run's plan: what a sweep measures and under which rules, built and checked in one
place.

``RunPlan.from_args(args)`` plans a new run from the command line and
``RunPlan.from_document(parameters, source)`` reopens a stored one (``--resume``); both
end in ``RunPlan.checked``, the only check of the selection, the grids, the budgets, the
timeout and the latency settings. A run file is untrusted input, so a resumed plan meets
exactly the rules of a new one (lists de-duplicated and bounded as the command line's
are). ``as_parameters()`` is the plan as a run file stores it (docs/results-format.md):
the schema checks the shapes of a stored file, this module what they mean. The suite
(``suite.py``) holds the default grids and turns a plan into jobs; nothing here writes.
"""

from dataclasses import replace

from parkbench.core import registry
from parkbench.core.errors import UserError
from parkbench.core.protocol import MAX_N
from parkbench.core.stats import MIN_DISTINCT_N
from parkbench.core.units import is_finite_number
from parkbench.measurement import guard, limits, placement, rlimits, suite, switchbench
from parkbench.measurement.guard import Guard
from parkbench.measurement.selection import parse_primitives, selection_and_grids, served_override
from parkbench.store import map_check_schema
from parkbench.store.run_plan import DEFAULT_SLO_SECONDS, StoredPlan, slo_problem

MAX_REPEAT = 100
MAX_TIMEOUT_SECONDS = 24 * 3600.0
MAX_TAIL_LOOPS = 10_000_000
MAX_SWITCH_ROUNDS = 10
MAX_SELECTED = 200          # model variants in one run (open variants: stack-SIZE)
MAX_GRID = 1_000            # N of one grid


def check_grid(grid, key: str = "") -> tuple[int, ...]:
    """A grid of N, sorted and each N once: whole numbers from 1 to ``MAX_N``, at least
    ``MIN_DISTINCT_N`` of them."""
    where = f"grid {key} " if key else ""
    if not isinstance(grid, (list, tuple)) or len(grid) > MAX_GRID:
        raise UserError(f"{where}must be a list of at most {MAX_GRID:,} N")
    for n in grid:
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_N:
            raise UserError(f"{where}holds {n!r}; N must be a whole number from 1 to {MAX_N:,} per child")
    distinct = sorted(set(grid))
    if len(distinct) < MIN_DISTINCT_N:
        raise UserError(f"{where}needs at least {MIN_DISTINCT_N} distinct N to fit memory against N, "
                        f"got {', '.join(map(str, distinct)) or 'none'}")
    return tuple(distinct)


class RunPlan(StoredPlan):
    """Everything a sweep's children are run with: the stored plan's fields
    (``store/run_plan.py``), built from the command line (``from_args``) or read back
    (``from_document``), and checked (``checked``). Tests may build one directly."""

    # --- building --------------------------------------------------------------------

    @classmethod
    def from_args(cls, args, python_spec: str | None = None) -> "RunPlan":
        """The plan of ``parkbench run``'s options, checked (nothing is written)."""
        selection, grids, only = selection_and_grids(args, limits.read())
        mode = "rigorous" if args.full else (args.latency_mode or "quick")
        primitives = parse_primitives(args.primitives, selection, every=mode == "rigorous")
        budget = args.memory_budget or (suite.FULL_BUDGET if args.full else guard.DEFAULT_BUDGET)
        plan = cls(
            selection=tuple(selection), grids=grids, full=bool(args.full),
            repeat=args.repeat if args.repeat is not None else 1,
            # a map check parks half a model's capacity (millions of tasks): --full's timeout
            timeout_seconds=args.timeout if args.timeout is not None else (
                suite.FULL_TIMEOUT_SECONDS if args.full or only == "check" else suite.DEFAULT_TIMEOUT_SECONDS),
            memory=only in (None, "memory"), latency=only in (None, "latency"), latency_mode=mode,
            primitives=primitives, placements=placement.PLACEMENTS, tail_loops=switchbench.TAIL_LOOPS,
            switch_rounds=switchbench.SWITCH_ROUNDS, to_limit=args.to_limit,
            child_rlimits=",".join(args.child_rlimit or ()),
            wake_max_n=dict(suite.WAKE_MAX_N) if args.full else {},
            # rigorous pyperf for the primitive that wakes a parked waiter (the fit map's);
            # the others quick: pyperf's time goes where the figures are used
            rigorous_primitives=({model: names[:1] for model, names in primitives.items()}
                                 if args.full else None),
            memory_budget_bytes=guard.parse_budget(budget, guard.available_bytes()),
            memory_floor_bytes=guard.default_floor(),
            guard_margin=guard.FULL_GUARD_MARGIN if args.full else guard.GUARD_MARGIN,
            served=only == "check" or (only in (None, "served")
                                       and bool(suite.served_grids(selection, args.full)
                                                or suite.wake_grids(selection, args.full))),
            served_grids={} if only == "check" else _w_given(suite.served_grids(selection, args.full), args),
            served_rounds=suite.FULL_SERVED_ROUNDS if args.full else 1,
            served_settings=suite.served_settings(args.full),
            wake_grids=({} if only == "check" or only not in (None, "served")
                        else _w_given(suite.wake_grids(selection, args.full), args)),
            wake_settings=suite.wake_settings(args.full),
            slo_seconds=args.slo if args.slo is not None else DEFAULT_SLO_SECONDS,
            python_spec=python_spec)
        return plan.checked()

    @classmethod
    def from_document(cls, parameters, source: str) -> "RunPlan":
        """The plan a run file stored (its shapes checked by ``StoredPlan``, the value
        each field had in runs that did not store it), checked like the command line's."""
        return super().from_document(parameters, source).checked(source)

    # --- the rules -------------------------------------------------------------------

    def checked(self, source: str | None = None) -> "RunPlan":
        """This plan if every rule holds (a floor below the default raised to it, the
        resource limits in their stored form); else a ``UserError`` that names
        ``source``, the file it came from (``None``: the command line)."""
        try:
            return self._checked()
        except UserError as exc:
            if source is None:
                raise
            raise UserError(f"{source}: {exc}") from None

    def _checked(self) -> "RunPlan":

        def fail(rule: str):
            raise UserError(rule)

        if not self.selection or len(self.selection) > MAX_SELECTED:
            fail(f"a run selects from 1 to {MAX_SELECTED} model variants, not {len(self.selection):,}")
        for model, variant in self.selection:
            registry.check_variant(registry.get(model), variant)
        grids = {key: check_grid(grid, key) for key, grid in self.grids.items()}
        missing = {suite.grid_key(m, v) for m, v in self.selection} - set(grids)
        if missing:
            fail(f"no grid for {', '.join(sorted(missing))}")
        selected_models = {model for model, _ in self.selection}
        for mapping in (self.primitives, self.rigorous_primitives or {}):
            for model, names in mapping.items():
                if model not in selected_models:
                    fail(f"primitives of {model!r}, a model the run does not select")
                for name in names:
                    registry.check_primitive(registry.get(model), name)
        if self.latency:
            without = sorted(model for model in selected_models if not self.primitives.get(model))
            if without:
                fail(f"no hand-off primitives for {', '.join(without)} (latency needs at least one)")
            if not self.placements:
                fail("no placements: latency needs at least one of " + ", ".join(placement.PLACEMENTS))
        for where in self.placements:
            if where not in placement.PLACEMENTS:
                fail(f"unknown placement {where!r}; accepted: {', '.join(placement.PLACEMENTS)}")
        for model, cap in self.wake_max_n.items():
            registry.get(model)
            if not _whole(cap, 1, MAX_N):
                fail(f"the wake cap of {model} must be a whole number from 1 to {MAX_N:,}, not {cap!r}")
        for name, value in (("full", self.full), ("memory", self.memory), ("latency", self.latency)):
            if not isinstance(value, bool):
                fail(f"{name} must be true or false, not {value!r}")
        if not _whole(self.repeat, 1, MAX_REPEAT):
            fail(f"repeat must be a whole number from 1 to {MAX_REPEAT}, not {self.repeat!r}")
        if not is_finite_number(self.timeout_seconds) or not 0 < self.timeout_seconds <= MAX_TIMEOUT_SECONDS:
            fail(f"the timeout must be in (0, {MAX_TIMEOUT_SECONDS:g}] seconds, not {self.timeout_seconds!r}")
        if not _whole(self.switch_rounds, 1, MAX_SWITCH_ROUNDS):
            fail(f"switch rounds must be a whole number from 1 to {MAX_SWITCH_ROUNDS}, "
                 f"not {self.switch_rounds!r}")
        if self.latency_mode not in switchbench.PYPERF_MODES:
            fail(f"latency mode must be one of {', '.join(switchbench.PYPERF_MODES)}, "
                 f"not {self.latency_mode!r}")
        if not is_finite_number(self.guard_margin) or not 1 <= self.guard_margin <= 10:
            fail(f"the guard margin must be in [1, 10], not {self.guard_margin!r}")
        if not _whole(self.tail_loops, 1, MAX_TAIL_LOOPS):
            fail(f"tail loops must be a whole number from 1 to {MAX_TAIL_LOOPS:,}, not {self.tail_loops!r}")
        if self.tail_placement != switchbench.TAIL_PLACEMENT:
            fail(f"tail hand-offs are placed by the OS ({switchbench.TAIL_PLACEMENT!r}), "
                 f"not {self.tail_placement!r}")
        available = guard.available_bytes()
        budget = self.memory_budget_bytes
        if not is_finite_number(budget) or not 0 < budget <= available:
            fail(f"the memory budget must be positive and at most the memory available now "
                 f"({available:,} B), not {budget!r}")
        if budget < guard.PRIOR_FIXED_BYTES:
            fail(f"the memory budget of {int(budget):,} B is below what the smallest probe child "
                 f"needs ({guard.PRIOR_FIXED_BYTES:,} B: an interpreter and its libraries)")
        if self.to_limit is not None and not isinstance(self.to_limit, str):
            fail(f"to_limit must be text, not {self.to_limit!r}")
        if self.python_spec is not None and not _version(self.python_spec):
            fail(f"python_spec must be a version such as 3.12 or 3.13.0, not {self.python_spec!r}")
        _check_served(self, fail)
        map_check_schema.check(self.map_checks, fail, self.selection)
        if not isinstance(self.child_rlimits, str):
            fail(f"child_rlimits must be text, not {self.child_rlimits!r}")
        floor = self.memory_floor_bytes
        if not is_finite_number(floor) or not 0 <= floor < available:
            fail(f"the memory floor must be a number of bytes below the memory available now "
                 f"({available:,} B), not {floor!r}")
        return replace(self, grids=grids, pyperf_options=switchbench.PYPERF_MODES[self.latency_mode],
                       memory_floor_bytes=max(int(floor), guard.default_floor()),
                       child_rlimits=rlimits.normalise(self.child_rlimits, "--child-rlimit"))

    # --- using it --------------------------------------------------------------------

    def jobs(self, unavailable=None, served_unavailable: str | None = None):
        """Every job of the sweep in run order, and the refused ones with why
        (``suite.jobs``)."""
        return suite.jobs(list(self.selection), self.grids, self.repeat, memory=self.memory,
                          latency=self.latency, primitives=self.primitives,
                          placements=self.placements, unavailable=unavailable,
                          switch_rounds=self.switch_rounds,
                          served_grids=self.served_grids if self.served else None,
                          served_rounds=self.served_rounds, served_unavailable=served_unavailable,
                          wake_grids=self.wake_grids if self.served else None,
                          map_checks=self.map_checks)

    def guard(self):
        return Guard(self.memory_budget_bytes, self.memory_floor_bytes, self.guard_margin)


def _w_given(grids: dict, args) -> dict:
    """``grids`` (W per served or wake variant) with ``--n``'s W where ``--only served``
    was given them (``selection.served_override``)."""
    given = served_override(args)
    return grids if given is None else {key: given for key in grids}


def _check_served(plan: RunPlan, fail) -> None:
    """The served rate's settings: W grids of selected connections variants, rounds, the
    SLO and the load generator's settings within reason."""
    if not isinstance(plan.served, bool):
        fail(f"served must be true or false, not {plan.served!r}")
    chosen = {suite.grid_key(m, v) for m, v in plan.selection if registry.is_connections(v)}
    for key, grid in plan.served_grids.items():
        if key not in chosen:
            fail(f"a served grid for {key}, not a selected connections variant")
        if not 1 <= len(grid) <= MAX_GRID or not all(_whole(w, 1, MAX_N) for w in grid):
            fail(f"the served grid of {key} must hold 1 to {MAX_GRID:,} whole N, not {list(grid)!r}")
    if not _whole(plan.served_rounds, 1, MAX_SWITCH_ROUNDS):
        fail(f"served rounds must be a whole number from 1 to {MAX_SWITCH_ROUNDS}, not {plan.served_rounds!r}")
    if slo_problem(plan.slo_seconds):
        fail(slo_problem(plan.slo_seconds))
    settings = plan.served_settings
    if plan.served and set(settings) != set(suite.served_settings(False)):
        fail(f"served settings must name {', '.join(sorted(suite.served_settings(False)))}")
    if settings:
        if not _whole(settings["connections"], 1, 1000):
            fail(f"served connections must be 1 to 1,000, not {settings['connections']!r}")
        for key in ("warmup_seconds", "closed_seconds", "step_seconds", "reply_timeout_seconds"):
            if not is_finite_number(settings[key]) or not 0 < settings[key] <= 60:
                fail(f"served {key} must be in (0, 60], not {settings[key]!r}")
        share = settings["start_share"]
        if not is_finite_number(share) or not 0 < share <= 1:
            fail(f"served start_share must be in (0, 1], not {share!r}")
        for flag in ("judge_slo", "floor_every_round"):
            if not isinstance(settings[flag], bool):
                fail(f"served {flag} must be true or false, not {settings[flag]!r}")
    _check_wakes(plan, fail)


def _check_wakes(plan: RunPlan, fail) -> None:
    """The wake searches: W grids of selected loops with a wake driver, and the search's
    settings within reason."""
    drivers = {suite.grid_key(m, v) for m, v in plan.selection if (m, v) in suite.WAKE_VARIANTS}
    for key, grid in plan.wake_grids.items():
        if key not in drivers:
            fail(f"a wake grid for {key}, not a selected loop with a wake driver "
                 f"({', '.join(f'{m}:{v}' for m, v in suite.WAKE_VARIANTS)})")
        if not 1 <= len(grid) <= MAX_GRID or not all(_whole(w, 1, MAX_N) for w in grid):
            fail(f"the wake grid of {key} must hold 1 to {MAX_GRID:,} whole N, not {list(grid)!r}")
    settings = plan.wake_settings
    if plan.wake_grids and set(settings) != set(suite.wake_settings(False)):
        fail(f"wake settings must name {', '.join(sorted(suite.wake_settings(False)))}")
    if plan.wake_grids:
        if not is_finite_number(settings["start"]) or not 10 <= settings["start"] <= 10**8:
            fail(f"the wake search's start must be 10 to 10^8 wakes/s, not {settings['start']!r}")
        for key in ("step_seconds", "warmup_seconds"):
            if not is_finite_number(settings[key]) or not 0 <= settings[key] <= 60 or (
                    key == "step_seconds" and settings[key] == 0):
                fail(f"the wake search's {key} must be in [0, 60] seconds (a step more than 0), "
                     f"not {settings[key]!r}")


def _whole(value, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _version(value) -> bool:
    import re

    return isinstance(value, str) and re.fullmatch(r"[0-9]+\.[0-9]+(\.[0-9]+)?t?", value) is not None

