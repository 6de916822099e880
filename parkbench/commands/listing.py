"""``parkbench list``: models, variants, primitives and grids."""

from parkbench.commands import output
from parkbench.core import registry
from parkbench.measurement import gotoolchain
from parkbench.measurement.suite import (
    FULL_EXTRA,
    QUICK_CONNECTIONS,
    QUICK_GRIDS,
    QUICK_VARIANTS,
    VARIANT_GRIDS,
    default_grid,
)


def _availability(model) -> str:
    """Whether a model that needs a toolchain can run here, without building anything."""
    try:
        return f"available: {gotoolchain.version()} ({gotoolchain.find_go()}); a reference, not a Python model"
    except gotoolchain.Unavailable as exc:
        return f"skipped by run: {exc}"


def run(args) -> int:
    for model in registry.MODELS.values():
        quick = ", ".join(f"{n:,}" for n in QUICK_GRIDS[model.name])
        output.write(f"{model.name}: {model.description}")
        output.write(f"  variants: {', '.join(model.variants)} "
                     f"(default sweep: {', '.join(QUICK_VARIANTS[model.name])})")
        output.write(f"  hand-off primitives: {', '.join(model.primitives)}")
        output.write(f"  quick grid: {quick}")
        if model.toolchain is not None:
            output.write(f"  {_availability(model)}")
    for variant, grid in VARIANT_GRIDS.items():
        output.write(f"grid of every {variant} variant: {', '.join(f'{n:,}' for n in grid)}")
    output.write("connections workload (N idle TCP connections held by each model's server, "
                 "a client apart; in the default sweep): "
                 + "; ".join(f"{model}:{'/'.join(variants)} at "
                             f"{', '.join(f'{n:,}' for n in default_grid(model, variants[0]))}"
                             for model, variants in QUICK_CONNECTIONS.items())
                 + "; --full adds " + ", ".join(f"{m}:{v}" for m, v in FULL_EXTRA))
    return 0
