"""What a run asks for on the command line, parsed: the model variants (``--models``,
``--to-limit``, ``--full``), their grids (``--n``) and the hand-off primitives
(``--primitives``). Names are checked against the registry here; everything else a run
asks for is checked by its plan (``plan.py``).
"""

from parkbench.core import registry
from parkbench.core.errors import UserError
from parkbench.core.units import parse_count_list
from parkbench.measurement import suite


def parse_selection(text: str | None, bare_model_default: bool = False) -> list[tuple[str, str]]:
    """``"threads,subprocess:fork"`` -> [(model, variant), ...], each once.

    A bare model name selects the variants the default sweep runs for it (with
    ``bare_model_default``, only the first of them), ``model:all`` every variant it has
    (``asyncio`` once meant all six, 100k reuseport connections among them: issue 37);
    ``model:variant`` selects one; ``all`` selects every model and variant. ``None``
    selects the default sweep's variants (``suite.QUICK_VARIANTS`` and
    ``suite.QUICK_CONNECTIONS``).
    """
    if text is None:
        return [(model, v) for chosen in (suite.QUICK_VARIANTS, suite.QUICK_CONNECTIONS)
                for model, variants in chosen.items() for v in variants]
    if text.strip() == "all":
        return [(m.name, v) for m in registry.MODELS.values() for v in m.variants]
    selected: list[tuple[str, str]] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, colon, variant = item.partition(":")
        model = registry.get(name)
        if colon and not variant:
            raise UserError(f"--models {item!r} names no variant; give MODEL for the default sweep's "
                            f"variants, MODEL:all for all of them or MODEL:VARIANT, e.g. {name}:{model.variants[0]}")
        variants: tuple[str, ...]
        if variant == "all":
            variants = model.variants
        elif variant:
            variants = (registry.check_variant(model, variant),)
        elif bare_model_default:
            variants = suite.QUICK_VARIANTS[model.name][:1]
        else:
            variants = (*suite.QUICK_VARIANTS[model.name], *suite.QUICK_CONNECTIONS.get(model.name, ()))
        selected += [(model.name, chosen) for chosen in variants if (model.name, chosen) not in selected]
    if not selected:
        raise UserError(f"--models needs at least one model; accepted: {', '.join(registry.MODELS)}")
    return selected


def parse_primitives(text: str | None, selection, every: bool = False) -> dict[str, tuple[str, ...]]:
    """Hand-off primitives per selected model: those named in ``text`` (a comma list;
    each must belong to a selected model), or by default each model's first (its most
    idiomatic), or all of them when ``every``."""
    models = [registry.get(name) for name in dict.fromkeys(model for model, _ in selection)]
    if text is None:
        return {model.name: model.primitives if every else model.primitives[:1] for model in models}
    wanted = [item.strip() for item in text.split(",") if item.strip()]
    known = sorted({p for model in models for p in model.primitives})
    for primitive in wanted:
        if primitive not in known:
            raise UserError(f"unknown hand-off primitive {primitive!r} for the selected models; "
                            f"accepted primitives: {', '.join(known)}")
    return {model.name: tuple(p for p in model.primitives if p in wanted) for model in models}


def selection_and_grids(args, limits_now):
    """(selection, grids per ``model:variant``, what to measure) of ``run``'s options."""
    if args.full:
        if args.n or args.to_limit:
            raise UserError("--full chooses its own grids; do not pass --n or --to-limit")
        selection = (parse_selection(args.models) if args.models
                     else parse_selection(None) + suite.FULL_EXTRA)
        return selection, suite.full_grids(selection, limits_now), args.only
    if args.to_limit:
        if args.models or args.n:
            raise UserError("--to-limit chooses its own model and grid; do not pass --models or --n")
        selection = parse_selection(args.to_limit, bare_model_default=True)
        if len(selection) != 1:
            raise UserError(f"--to-limit takes one model or model:variant, not {args.to_limit!r}")
        (model, variant), = selection
        start = min(suite.QUICK_GRIDS[model])
        predicted = suite.predicted_capacity(model, variant, limits_now)
        return selection, {suite.grid_key(model, variant): suite.to_limit_grid(start, predicted)}, "memory"
    selection = parse_selection(args.models)
    # with --only served, --n is the W of the served and wake jobs (served_override), not
    # a memory grid: a memory grid needs three N, a served W one
    override = parse_count_list(args.n) if args.n is not None and args.only != "served" else None
    return selection, suite.grids_for(selection, override), args.only


def served_override(args) -> tuple[int, ...] | None:
    """The W ``--n`` gives the served and wake jobs of ``--only served`` (distinct,
    ascending), or ``None``."""
    if args.n is None or args.only != "served" or args.full or args.to_limit:
        return None
    return tuple(sorted(set(parse_count_list(args.n))))
