"""Other Python interpreters for the probe children: ``parkbench run --python SPEC``.

parkbench itself stays on the interpreter it runs under; the probe children, the pyperf
hand-off benchmark and the tail probes run under the interpreter SPEC names:

- a path to an interpreter, or
- a version: ``3.13`` finds ``python3.13`` on PATH, else pyenv's newest 3.13.x
  (``$PYENV_ROOT/versions``, default ``~/.pyenv``) or of the builds
  ``scripts/build_python.py`` made (``pythons/`` in the cache folder); ``3.12.1`` that
  exact build; ``3.13t`` a free-threaded build (``python3.13t``).

It must be CPython 3.11 or newer (the probe children use ``asyncio.Runner``). Each
interpreter gets an environment of its own in the cache folder (a venv, created on first
use, with what the children need: psutil, pyperf, gevent, uvloop); parkbench's own code
reaches it through a ``.pth`` file naming a folder that holds only a link to this
package. A library that cannot be installed for that interpreter makes its model
skipped, with pip's reason.
"""

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import parkbench
from parkbench.core.errors import UserError
from parkbench.measurement import gotoolchain, setup_command
from parkbench.store.boundedread import read_regular

MIN_VERSION = (3, 11)
# what each model's children need beyond psutil and pyperf (every model needs those)
MODEL_PACKAGES = {"gevent": ("gevent",), "uvloop": ("uvloop",)}
BASE_PACKAGES = ("psutil", "pyperf")
_VERSION = re.compile(r"^([0-9]+)\.([0-9]+)(?:\.([0-9]+))?(t?)$")
# platform.python_version() of a release or pre-release: 3.12.1, 3.13.0rc1, 3.14.0a2+
_RELEASE = re.compile(r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}(?:(?:a|b|rc)[0-9]{1,3})?\+?")
INSTALL_TIMEOUT_SECONDS = 900.0
MAX_MARKER_BYTES = 2**20

IDENTITY_CODE = """
import json, platform, sys, sysconfig
print(json.dumps({
    "version": platform.python_version(),
    "implementation": platform.python_implementation(),
    "build": " ".join(platform.python_build()),
    "compiler": platform.python_compiler(),
    "abi": sysconfig.get_config_var("SOABI"),
    "gil_disabled": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
    "version_info": list(sys.version_info[:2]),
}))
"""


def pyenv_root() -> Path:
    return Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")


def resolve(spec: str) -> Path:
    """The interpreter SPEC names; ``UserError`` (one line) when there is none."""
    spec = spec.strip()
    if not spec:
        raise UserError("--python needs an interpreter path or a version such as 3.12")
    if "/" in spec:
        path = Path(spec).expanduser()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise UserError(f"--python {spec}: no executable interpreter there")
        return path
    match = _VERSION.match(spec)
    if not match:
        raise UserError(f"--python {spec!r}: give an interpreter path or a version such as "
                        f"3.12, 3.13.0 or 3.13t")
    major, minor, micro, threaded = match.groups()
    if micro is None:
        found = shutil.which(f"python{major}.{minor}{threaded}")
        # a pyenv shim (any pyenv's) runs only the versions pyenv has selected: go to
        # the build itself
        if found and Path(found).parent.name != "shims":
            return Path(found)
    candidates = []
    roots = (pyenv_root() / "versions", built_pythons())
    for versions in roots:
        if not versions.is_dir():
            continue
        for folder in versions.iterdir():
            name = re.match(r"^([0-9]+)\.([0-9]+)\.([0-9]+)(t?)$", folder.name)
            if not name or (name[1], name[2], name[4]) != (major, minor, threaded):
                continue
            if micro is not None and name[3] != micro:
                continue
            python = folder / "bin" / f"python{major}.{minor}{threaded}"
            if python.is_file():
                candidates.append((int(name[3]), str(python)))
    if not candidates:
        where = f"on PATH (python{major}.{minor}{threaded}) or " if micro is None else ""
        build = (f"; build it: python3 scripts/build_python.py {major}.{minor}{threaded}"
                 if micro is None else "")
        raise UserError(f"--python {spec}: no such interpreter {where}in pyenv ({roots[0]}) "
                        f"or {roots[1]}{build}")
    return Path(max(candidates)[1])


def built_pythons() -> Path:
    """Where ``scripts/build_python.py`` puts the interpreters it builds."""
    return gotoolchain.cache_folder() / "pythons"


def identify(python: Path) -> dict:
    """The interpreter's identity (as a run file records it); ``UserError`` if it is not
    a CPython this package can drive."""
    try:
        done = subprocess.run([str(python), "-I", "-c", IDENTITY_CODE], capture_output=True,
                              text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UserError(f"--python {python}: it did not run ({exc})") from None
    try:
        info = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        said = (done.stderr.strip().splitlines() or ["no output"])[-1].strip()
        raise UserError(f"--python {python}: it did not run as a Python interpreter "
                        f"({said[:200]})") from None
    if not _is_identity(info):
        raise UserError(f"--python {python}: its answer is not an interpreter's identity "
                        f"(a version such as 3.12.1, 3.13.0rc1; names; version_info)")
    version = tuple(info.pop("version_info"))
    if info["implementation"] != "CPython" or version < MIN_VERSION:
        raise UserError(f"--python {python}: {info['implementation']} {info['version']} is not "
                        f"CPython {MIN_VERSION[0]}.{MIN_VERSION[1]} or newer (the probe "
                        f"children use asyncio.Runner)")
    info["executable"] = python.name
    return info


def _is_identity(info) -> bool:
    """Whether the identity an interpreter told has the shape ``IDENTITY_CODE`` prints:
    its version becomes part of a cache folder's name, so it must be a plain release."""
    return (isinstance(info, dict) and isinstance(info.get("version"), str)
            and _RELEASE.fullmatch(info["version"]) is not None
            and all(isinstance(info.get(key), str) for key in ("implementation", "build", "compiler"))
            and isinstance(info.get("gil_disabled"), bool)
            and isinstance(info.get("version_info"), list) and len(info["version_info"]) == 2
            and all(type(part) is int for part in info["version_info"]))


def is_current(python: Path) -> bool:
    return Path(python).resolve() == Path(sys.executable).resolve()


def _package_folder() -> Path:
    return Path(parkbench.__file__).resolve().parent


def environment(python: Path, info: dict, progress=print) -> tuple[Path, dict]:
    """The cached environment of ``python``: (its interpreter, model -> why it cannot
    run there). Creates it on first use, installing with pip, ``progress`` told why."""
    key = hashlib.sha256(str(Path(python).resolve()).encode()).hexdigest()[:10]
    suffix = "t" if info.get("gil_disabled") else ""
    folder = gotoolchain.cache_folder() / "venvs" / f"cpython-{info['version']}{suffix}-{key}"
    marker = folder / "parkbench-environment.json"
    child = folder / "bin" / "python"
    found = _ready(marker, child)
    if found is not None:
        return child, found
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f".{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two sweeps: one builds, the other waits
        found = _ready(marker, child)
        if found is not None:
            return child, found
        return child, _create(python, info, folder, marker, suffix, progress)


def _ready(marker: Path, child: Path) -> dict | None:
    """The models a finished environment cannot run (``None`` if it is not finished:
    the marker is written last; nor if its interpreter is gone since, or the marker is
    no small regular file: then it is made anew)."""
    if not (child.is_file() and os.access(child, os.X_OK)):
        return None
    try:
        return dict(json.loads(read_regular(marker, MAX_MARKER_BYTES, "environment marker"))["unavailable"])
    except (OSError, ValueError, KeyError, TypeError, UserError):
        return None


def _create(python: Path, info: dict, folder: Path, marker: Path, suffix: str, progress) -> dict:
    child = folder / "bin" / "python"
    progress(f"creating an environment for CPython {info['version']}{suffix} in {folder}")
    shutil.rmtree(folder, ignore_errors=True)
    _run([str(python), "-m", "venv", str(folder)], f"cannot create a venv with {python}")
    if not (child.is_file() and os.access(child, os.X_OK)):
        raise UserError(f"{python} -m venv made no {child}: not a working CPython interpreter")
    # parkbench's code, and nothing else from this environment's folders
    link_folder = folder / "parkbench-link"
    link_folder.mkdir()
    (link_folder / "parkbench").symlink_to(_package_folder())
    site = subprocess.run([str(child), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          capture_output=True, text=True, timeout=60).stdout.strip()
    if not Path(site).is_absolute() or not Path(site).is_dir():
        raise UserError(f"the venv's interpreter {child} names no site-packages folder ({site[:100]!r})")
    (Path(site) / "parkbench-link.pth").write_text(str(link_folder) + "\n")
    progress(f"installing {', '.join(BASE_PACKAGES)} for CPython {info['version']}{suffix} (pip)")
    _run([str(child), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
          *BASE_PACKAGES], f"pip could not install {', '.join(BASE_PACKAGES)} for {python}")
    unavailable = {}
    for model, packages in MODEL_PACKAGES.items():
        progress(f"installing {', '.join(packages)} for CPython {info['version']}{suffix} (pip)")
        try:
            _run([str(child), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                  *packages], "pip failed")
        except UserError as exc:
            unavailable[model] = (f"{', '.join(packages)} could not be installed for CPython "
                                  f"{info['version']}{suffix}: {exc}")
    partial = marker.with_name(marker.name + ".partial")
    partial.write_text(json.dumps({"python": info, "unavailable": unavailable}, indent=1) + "\n")
    partial.replace(marker)
    return unavailable


def _run(command, failure: str) -> None:
    try:
        done = setup_command.run(command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_SECONDS)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UserError(f"{failure} ({exc})") from None
    if done.returncode:
        raise UserError(f"{failure}: {pip_reason(done.stderr)[:300]}")


# pip's own framing, never the reason: its notes, warnings, the "subprocess exited" banner,
# the box it draws around a build's output
_BOILERPLATE = re.compile(r"^(note:|hint:|WARNING:|error: subprocess-exited-with-error|[×│╰]|\[end of output\]"
                          r"|\[[0-9]+ lines of output\])")
_REASONS = (re.compile(r"^\S+:[0-9]+(:[0-9]+)?: (fatal )?error: "),            # the compiler's first error
            re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit): "),     # a Python exception (a setup script's)
            re.compile(r"^ERROR: "),                                    # pip's own (no such version...)
            re.compile(r"^error: "))                                     # a build tool's
_PACKAGE = re.compile(r"^(?:Collecting|Building wheel for|Running setup\.py install for) ([A-Za-z0-9][\w.-]*)")


def pip_reason(stderr: str) -> str:
    """The line of pip's output that says why an install failed, with the package it was
    building then: the compiler's first error, else a setup script's exception, else
    pip's own ERROR line; never pip's boilerplate ("This error originates from a
    subprocess")."""
    lines = [line.strip() for line in (stderr or "").splitlines()]
    lines = [line for line in lines if line and not _BOILERPLATE.match(line)]
    for pattern in _REASONS:
        found = [i for i, line in enumerate(lines) if pattern.match(line)]
        if found:
            at = found[0] if pattern is _REASONS[0] else found[-1]
            packages = [m[1] for m in map(_PACKAGE.match, lines[:at]) if m]
            return (f"{packages[-1]}: " if packages else "") + lines[at]
    return lines[-1] if lines else "no output"


class Child:
    """The interpreter of a run's probe children (``--python SPEC``): the spec as given,
    the interpreter it names, its identity, and once ``prepare``d, the environment's
    interpreter and the models it cannot run (with why)."""

    def __init__(self, spec: str):
        self.spec = spec
        self.found = resolve(spec)
        self.identity = identify(self.found)
        self.python: str | None = None
        self.unavailable: dict = {}

    @property
    def version_spec(self) -> str:
        """The spec as a run file stores it: a version, never a path (results go into
        git): ``3.12`` as given, or the version a path names (``3.13.1t``)."""
        given = self.spec.strip()  # resolve() strips it too
        if _VERSION.fullmatch(given):
            return given
        return self.identity["version"] + ("t" if self.identity["gil_disabled"] else "")

    def prepare(self, progress) -> None:
        """Create (or reuse) its environment; ``progress`` hears what it installs."""
        if is_current(self.found):
            return  # this interpreter: its own environment already has everything
        python, self.unavailable = environment(self.found, self.identity, progress)
        self.python = str(python)
