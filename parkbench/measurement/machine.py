"""Who the machine is: a stable, explicit name and the facts that explain its figures.

The name is chosen once (``--machine``, ``PARKBENCH_MACHINE``, or a default derived
from the hardware) and stored in the user's config, so later runs file their results in
the same ``results/<machine>/`` folder even if the hostname changes. A name is a machine
*kind* (``results.machine_kind``: what ``machine.json`` holds, never its changing state); which host
ran a run is the run's own record (``host``).
"""

import hashlib
import json
import os
import platform
import socket
import sys
from importlib import metadata
from pathlib import Path

import psutil

from parkbench.core.errors import UserError
from parkbench.measurement import limits
from parkbench.store import hosts, results
from parkbench.store.boundedread import read_regular
from parkbench.store.checker import is_plain_name

# The stored config holds one name: a larger file is not one (nor is a FIFO or /dev/zero).
MAX_CONFIG_BYTES = 64 * 2**10
PACKAGES = ("parkbench", "pyperf", "psutil", "uvloop", "gevent", "greenlet", "pandas", "matplotlib")
def check_name(name: str) -> str:
    if not is_plain_name(name):
        raise UserError(
            f"machine name must be a plain name (letters, digits, '.', '_', '-'; "
            f"no path separators or '..'; at most 64 characters), not {name!r}"
        )
    return name


def config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "parkbench" / "machine.json"


def default_name() -> str:
    memory_gib = round(psutil.virtual_memory().total / 2**30)
    return f"{platform.machine()}-{os.cpu_count()}cpu-{memory_gib}gib".lower()


def resolve_name(explicit: str | None = None) -> str:
    """The machine name, from the first of: ``explicit``, $PARKBENCH_MACHINE, the
    stored config, a hardware-derived default (which is then stored)."""
    for candidate in (explicit, os.environ.get("PARKBENCH_MACHINE")):
        if candidate is not None:
            return check_name(candidate)
    path = config_path()
    try:
        return check_name(json.loads(read_regular(path, MAX_CONFIG_BYTES, "machine config"))["name"])
    except FileNotFoundError:
        pass
    except UserError as exc:  # a FIFO, a device, a link to /dev/zero, a huge file
        raise UserError(f"{exc}: not a parkbench machine config; fix or delete it") from None
    except (ValueError, KeyError, TypeError, OSError, RecursionError) as exc:
        raise UserError(f"{path} is not a parkbench machine config "
                        f"({type(exc).__name__}: {exc}); fix or delete it") from None
    name = default_name()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"name": name}) + "\n")
    except OSError:
        pass  # an unwritable home only means the default is derived again next time
    return name


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def package_versions() -> dict:
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def python_info() -> dict:
    """The interpreter's identity: never its absolute path (results go into git)."""
    import sysconfig

    return {
        "version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "build": " ".join(platform.python_build()),
        "compiler": platform.python_compiler(),
        "executable": Path(sys.executable).name,
        "abi": sysconfig.get_config_var("SOABI"),
        "gil_disabled": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
    }


def host(machine_id: Path = Path("/etc/machine-id")) -> dict:
    """Which host this is: its name and a short hash of its machine id (the id itself
    stays private; ``None`` where the OS has none)."""
    try:
        raw = machine_id.read_bytes()[:4096].strip()
    except OSError:
        raw = b""
    name = "".join(ch for ch in socket.gethostname() if ch.isprintable())[:253] or "unknown"
    return {"hostname": name, "id": hashlib.sha256(raw).hexdigest()[:12] if raw else None}


def strangers(folder: dict, kind: dict, here: dict) -> list[str]:
    """What to tell a run whose host, or machine kind, is not the one that first filed
    results in the folder (``folder``: its machine.json): one line, naming what differs
    and the ``--machine`` that keeps the two apart; none where they agree."""
    differs = [f"{key} {kind.get(key)!r} here, {folder.get(key)!r} there"
               for key in results.KIND_FIELDS if key in folder and folder.get(key) != kind.get(key)]
    first = folder.get("first_host")
    if (first is None or hosts.same(first, here)) and not differs:  # None: never recorded
        return []
    name = kind["name"]
    suffix = "".join(ch for ch in here["hostname"].lower() if ch.isalnum() or ch in "._-").strip("._-")
    suggestion = f"{name}-{suffix or here.get('id') or 'b'}"[:64]
    reasons = []
    if first is not None and not hosts.same(first, here):
        reasons.append(f"whose results host {hosts.label(first)} filed first")
    if differs:
        reasons.append(f"whose machine kind differs ({'; '.join(differs)})")
    return [f"note: this host, {hosts.label(here)}, files its runs under machine {name!r}, "
            f"{' and '.join(reasons)}: its figures join that machine's (show, fit and the report say "
            f"which host and CPU each came from); to keep them apart, run with --machine {suggestion}"]


def without_name(description: dict) -> dict:
    """A machine description as a run file stores it (the name is the run's machine)."""
    return {key: value for key, value in description.items() if key != "name"}


def describe(name: str) -> dict:
    """Everything machine.json records about this machine."""
    return {
        "name": name,
        "cpu_model": _cpu_model(),
        "architecture": platform.machine(),
        "logical_cpus": os.cpu_count(),
        "physical_cpus": psutil.cpu_count(logical=False),
        "memory_total": psutil.virtual_memory().total,
        "memory_available": psutil.virtual_memory().available,
        "kernel": platform.release(),
        "os": platform.platform(),
        "python": python_info(),
        "packages": package_versions(),
        "limits": limits.read(),
    }
