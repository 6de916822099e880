"""Resource limits lowered in every probe child (``--child-rlimit NAME=VALUE``): one
parser for the command line, the stored parameters and the child itself.

The spec travels as text, ``nofile=64,as=1073741824``, in the run's parameters and in
the child's ``PARKBENCH_CHILD_RLIMITS``. This module imports nothing heavy: a probe
child imports it.
"""

from parkbench.core.errors import UserError
from parkbench.core.units import parse_count, parse_size

RLIMITS = {"nofile": "RLIMIT_NOFILE", "nproc": "RLIMIT_NPROC", "as": "RLIMIT_AS",
           "stack": "RLIMIT_STACK"}
MAX_VALUE = 2**62
COUNTED = ("nofile", "nproc")  # counts (10k); the others are sizes (2GiB)


def items(spec: str, source: str = "--child-rlimit") -> list[tuple[str, int]]:
    """``"nofile=64,as=2GiB"`` -> ``[("nofile", 64), ("as", 2147483648)]``, checked."""
    import resource

    parsed = []
    for item in filter(None, (part.strip() for part in str(spec).split(","))):
        name, sep, value = item.partition("=")
        if not sep or name not in RLIMITS:
            raise UserError(f"{source} takes NAME=VALUE with NAME one of "
                            f"{', '.join(RLIMITS)}, not {item!r}")
        size = parse_count(value) if name in COUNTED else parse_size(value)
        hard = resource.getrlimit(getattr(resource, RLIMITS[name]))[1]
        if size > MAX_VALUE or (hard != resource.RLIM_INFINITY and size > hard):
            ceiling = "any limit" if hard == resource.RLIM_INFINITY else f"the hard limit here, {hard:,}"
            raise UserError(f"{source}: {item!r} is above {ceiling}: a child's limit can only be lowered")
        parsed.append((name, size))
    return parsed


def normalise(spec: str, source: str = "--child-rlimit") -> str:
    """The checked spec in its stored form."""
    return ",".join(f"{name}={value}" for name, value in items(spec, source))


def apply(spec: str) -> None:
    """Lower this process's limits (soft and hard) as ``spec`` says."""
    import resource

    for name, value in items(spec, "PARKBENCH_CHILD_RLIMITS"):
        resource.setrlimit(getattr(resource, RLIMITS[name]), (value, value))
