"""The suite definition: which models and variants run, over which N.

Each default grid spans at least two decades in at least three points, sized so the
quick sweep finishes in well under two minutes on a 2-core machine while the memory a
grid's largest N takes dwarfs the noise of a fresh interpreter's baseline.
"""

from parkbench import probes
from parkbench.errors import UserError
from parkbench.fitting import MIN_DISTINCT_N

QUICK_GRIDS = {
    "threads": (100, 300, 1_000, 3_000),
    "asyncio": (1_000, 3_000, 10_000, 30_000, 100_000),
    "uvloop": (1_000, 3_000, 10_000, 30_000, 100_000),
    "gevent": (1_000, 3_000, 10_000, 30_000, 100_000),
    "subprocess": (4, 12, 40, 120, 400),
}

DEFAULT_TIMEOUT_SECONDS = 120.0


def parse_selection(text: str | None) -> list[tuple[str, str]]:
    """``"threads,subprocess:fork"`` -> [(model, variant), ...].

    A bare model name selects all its variants; ``model:variant`` selects one.
    ``None`` selects every model and variant.
    """
    if text is None:
        return [(m.name, v) for m in probes.MODELS.values() for v in m.variants]
    selected = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, _, variant = item.partition(":")
        model = probes.get(name)
        variants = [probes.check_variant(model, variant)] if variant else model.variants
        for chosen in variants:
            if (model.name, chosen) not in selected:
                selected.append((model.name, chosen))
    if not selected:
        raise UserError(
            f"--models needs at least one model; accepted: {', '.join(probes.MODELS)}"
        )
    return selected


def check_grid(grid) -> tuple[int, ...]:
    distinct = sorted(set(grid))
    if len(distinct) < MIN_DISTINCT_N:
        raise UserError(
            f"a grid needs at least {MIN_DISTINCT_N} distinct N to fit memory against N, "
            f"got {', '.join(map(str, distinct)) or 'none'}"
        )
    return tuple(distinct)


def grids_for(selection, override=None) -> dict[str, tuple[int, ...]]:
    """The N grid per selected model: ``override`` for all of them, or each default."""
    models = dict.fromkeys(model for model, _ in selection)
    if override is not None:
        grid = check_grid(override)
        return {model: grid for model in models}
    return {model: QUICK_GRIDS[model] for model in models}
