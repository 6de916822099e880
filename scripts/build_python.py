"""Build CPython from Debian's source package into parkbench's cache, for ``--python``.

    python3 scripts/build_python.py              # 3.13t (free-threaded) and 3.13 (GIL)
    python3 scripts/build_python.py 3.13t        # one build
    python3 scripts/build_python.py 3.14t --suite sid

A label is ``MAJOR.MINOR`` (a build with the GIL) or ``MAJOR.MINORt`` (free-threaded,
``--disable-gil``; 3.13 and newer). The source is the upstream tarball of Debian's
``pythonMAJOR.MINOR`` source package in ``--suite`` (default trixie), fetched by
``apt-get source --download-only`` through a private apt configuration in the cache
(the system's own apt configuration and lists are not touched; apt checks the tarball
against the suite's signed index). Debian's patches are not applied: the build is
upstream CPython, configured with ``--prefix`` and nothing else but ``--disable-gil``.

Each build goes to ``$PARKBENCH_CACHE/pythons/VERSION[t]`` (default
``~/.cache/parkbench/pythons``), where ``parkbench run --python 3.13t`` finds it. A build of
the label that is there already is reused (without asking apt). A build is made in a scratch folder beside it and moved
into place only once its interpreter has run and said what it is, so a failure (or
Ctrl-C) leaves nothing half-built; the compiler's output goes to ``build-LABEL.log``
in the cache, and a failure ends with one line naming the step and the log.

Runs with any Python 3.9+ (stdlib only). Exit status: 0 built or reused, 2 refused (bad
label, no source for it, a tool or disk space missing), 1 a failed build step.
"""

import argparse
import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

DEFAULT_LABELS = ("3.13t", "3.13")
DEFAULT_SUITE = "trixie"
MIRROR = "http://deb.debian.org/debian"
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
# a source tree, its objects and a staged install (about 1 GiB seen for 3.13), with room
NEEDS_FREE_BYTES = 2 * 2**30
TOOLS = ("apt-get", "apt-cache", "tar", "make", "cc")
LABEL = re.compile(r"^(3)\.(\d{1,2})(t?)$")
MARKER = "parkbench-build.json"
CHECK_CODE = ("import json, platform, ssl, sysconfig, zlib, ctypes; print(json.dumps("
              "{'version': platform.python_version(), "
              "'gil_disabled': bool(sysconfig.get_config_var('Py_GIL_DISABLED'))}))")


class Refused(Exception):
    """Cannot start: a one-line reason, exit 2."""


class Failed(Exception):
    """A build step failed: a one-line reason, exit 1."""


def cache_folder() -> Path:
    """parkbench's cache (as ``parkbench.measurement.gotoolchain.cache_folder``)."""
    given = os.environ.get("PARKBENCH_CACHE")
    if given:
        return Path(given)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "parkbench"


def parse_label(label: str) -> tuple[str, bool]:
    """``3.13t`` -> (``3.13``, True); ``Refused`` for anything else buildable here."""
    match = LABEL.match(label.strip())
    if not match:
        raise Refused(f"{label!r} is not a label such as 3.13 or 3.13t")
    version, threaded = f"{match[1]}.{match[2]}", bool(match[3])
    if threaded and int(match[2]) < 13:
        raise Refused(f"{label}: free-threaded builds exist from CPython 3.13 on")
    return version, threaded


class Apt:
    """apt-get and apt-cache with a private configuration (sources, lists and cache
    under ``folder``), for one Debian suite's source packages."""

    def __init__(self, folder: Path, suite: str, log: Path):
        self.folder, self.suite, self.log = folder, suite, log
        self.config = folder / "apt.conf"

    def prepare(self) -> None:
        for part in ("lists/partial", "cache/archives/partial", "sources.list.d", "preferences.d"):
            (self.folder / part).mkdir(parents=True, exist_ok=True)
        (self.folder / "sources.list").write_text(
            f"deb-src [signed-by={KEYRING}] {MIRROR} {self.suite} main\n")
        self.config.write_text("".join(f'{key} "{value}";\n' for key, value in (
            ("Dir::Etc::sourcelist", self.folder / "sources.list"),
            ("Dir::Etc::sourceparts", self.folder / "sources.list.d"),
            ("Dir::Etc::preferencesparts", self.folder / "preferences.d"),
            ("Dir::State::lists", self.folder / "lists"),
            ("Dir::Cache", self.folder / "cache"),
            ("Dir::Cache::pkgcache", ""), ("Dir::Cache::srcpkgcache", ""))))
        self.run(["apt-get", "update"], f"apt-get update of Debian {self.suite}'s sources")

    def run(self, command, what: str, cwd=None) -> str:
        done = run_logged(command, self.log, cwd=cwd, env={"APT_CONFIG": str(self.config)},
                          capture=True)
        if done.returncode:
            raise Refused(f"{what} failed: {last_line(done.stdout)}")
        return done.stdout

    def source_version(self, package: str) -> str:
        """The upstream version of ``package``'s newest source in the suite."""
        said = self.run(["apt-cache", "showsrc", package], f"apt-cache showsrc {package}")
        versions = re.findall(r"^Version: ([^\s]+)", said, flags=re.M)
        if not versions:
            raise Refused(f"Debian {self.suite} serves no source package {package} "
                          f"(try --suite sid, or another version)")
        releases = [re.match(r"^(?:\d+:)?((\d+)\.(\d+)\.(\d+))(?:[-+~]|$)", v) for v in versions]
        releases = [found for found in releases if found]
        if not releases:
            raise Refused(f"Debian {self.suite}'s {package} has version {versions[0]!r}, "
                          f"not a CPython release")
        # a suite can list several (3.14.9-1 and 3.14.10-1): the newest
        return max(releases, key=lambda found: tuple(int(part) for part in found.groups()[1:]))[1]

    def fetch(self, package: str, into: Path) -> Path:
        """The upstream tarball of ``package`` (downloaded and checked by apt)."""
        into.mkdir(parents=True, exist_ok=True)
        self.run(["apt-get", "source", "--download-only", package], f"apt-get source {package}",
                 cwd=into)
        tarballs = sorted(into.glob(f"{package}_*.orig.tar.*"))
        tarballs = [t for t in tarballs if not t.name.endswith(".asc")]
        if not tarballs:
            raise Refused(f"apt-get source {package} brought no upstream tarball into {into}")
        return tarballs[-1]


def last_line(text: str) -> str:
    """The line of a tool's output that says why it failed: apt's first ``E:`` (the
    file it could not fetch, not its summary), the compiler's first error, else the last
    error line that is not make's own, else the last line."""
    lines = [re.sub(r"\s+", " ", re.sub(r"\[IP: [^]]*\]", "", line)).strip()
             for line in (text or "").splitlines()]
    lines = [line for line in lines if line]
    apt = [line for line in lines if line.startswith("E: ")]
    compiler = [line for line in lines if re.match(r"^\S+:\d+(:\d+)?: (fatal )?error: ", line)]
    if apt or compiler:  # apt's first failed fetch; the compiler's first error, not make's echo of it
        return (apt or compiler)[0][:300]
    wanted = [line for line in lines if re.search(r"error|No |not found|cannot", line, re.I)
              and not line.startswith("make")]
    return ((wanted or lines or ["no output"])[-1])[:300]


def run_logged(command, log: Path, cwd=None, env=None, capture=False):
    """Run ``command``, its output appended to ``log`` (and returned if ``capture``)."""
    with open(log, "a") as out:
        out.write(f"\n$ {' '.join(map(str, command))}\n")
        out.flush()
        full_env = {**os.environ, **(env or {})}
        if capture:
            done = subprocess.run(command, cwd=cwd, env=full_env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
            out.write(done.stdout)
            return done
        return subprocess.run(command, cwd=cwd, env=full_env, stdout=out, stderr=subprocess.STDOUT)


def check_tools() -> None:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        raise Refused(f"missing {', '.join(missing)} (Debian: apt-get install build-essential "
                      f"apt; and the headers CPython builds with: libssl-dev zlib1g-dev libffi-dev)")


def check_space(folder: Path) -> None:
    free = shutil.disk_usage(folder).free
    if free < NEEDS_FREE_BYTES:
        raise Refused(f"a build needs {NEEDS_FREE_BYTES / 2**30:.1f} GiB free in {folder}; "
                      f"there are {free / 2**30:.2f} GiB")


def built(folder: Path) -> dict | None:
    """The marker of a finished build in ``folder`` whose interpreter is there."""
    try:
        marker = json.loads((folder / MARKER).read_text())
        python = folder / "bin" / marker["executable"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return marker if python.is_file() and os.access(python, os.X_OK) else None


def build(label: str, apt: Apt, pythons: Path, jobs: int, say) -> Path:
    """Build ``label`` (or find it built); the folder of its install."""
    version, threaded = parse_label(label)
    package = f"python{version}"
    suffix = "t" if threaded else ""
    for folder in sorted(pythons.glob(f"{version}.*{suffix}")):
        marker = built(folder)
        if marker and marker.get("label") == label:  # no network needed to reuse a build
            say(f"{label}: CPython {marker.get('version')}{suffix} is built already in {folder}")
            return folder
    log = apt.log = pythons / f"build-{label}.log"
    log.write_text("")
    apt.prepare()
    upstream = apt.source_version(package)
    final = pythons / f"{upstream}{suffix}"
    check_space(pythons)
    work = pythons / f".build-{upstream}{suffix}-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    try:
        start = time.monotonic()
        tarball = apt.fetch(package, work / "download")
        say(f"{label}: building CPython {upstream}{suffix} from {tarball.name} "
            f"(configure, make -j{jobs}: 5-20 minutes; output in {log})")
        step(["tar", "-xf", str(tarball), "-C", str(work)], "unpacking the tarball", log)
        sources = work / f"Python-{upstream}"
        if not (sources / "configure").is_file():
            raise Failed(f"the tarball {tarball.name} holds no Python-{upstream}/configure")
        flags = [f"--prefix={final}"] + (["--disable-gil"] if threaded else [])
        step(["./configure", *flags], "configure", log, cwd=sources)
        step(["make", f"-j{jobs}"], "make", log, cwd=sources)
        stage = work / "stage"
        step(["make", "install", f"DESTDIR={stage}"], "make install", log, cwd=sources)
        staged = stage / final.relative_to(final.anchor)
        executable = f"python{version}{suffix}"
        identity = check_interpreter(staged / "bin" / executable, threaded, log)
        marker = {"label": label, "version": identity["version"], "executable": executable,
                  "gil_disabled": identity["gil_disabled"], "source": tarball.name,
                  "suite": apt.suite, "configure": flags, "jobs": jobs,
                  "build_seconds": round(time.monotonic() - start)}
        (staged / MARKER).write_text(json.dumps(marker, indent=1) + "\n")
        shutil.rmtree(final, ignore_errors=True)  # a folder without a marker: not a build
        staged.rename(final)
        say(f"{label}: built CPython {identity['version']}{suffix} in "
            f"{marker['build_seconds'] / 60:.1f} min: {final / 'bin' / executable}")
        return final
    finally:
        shutil.rmtree(work, ignore_errors=True)


def step(command, what: str, log: Path, cwd=None) -> None:
    done = run_logged(command, log, cwd=cwd)
    if done.returncode:
        said = last_line(log.read_text(errors="replace")[-20000:])
        raise Failed(f"{what} failed (exit {done.returncode}): {said}; full output in {log}")


def check_interpreter(python: Path, threaded: bool, log: Path) -> dict:
    """What the staged interpreter says it is, once it has imported ssl, zlib and ctypes
    (pip and the children need them)."""
    done = run_logged([str(python), "-I", "-c", CHECK_CODE], log, capture=True)
    try:
        identity = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise Failed(f"the built interpreter did not run ({last_line(done.stdout)}); "
                     f"full output in {log}") from None
    if done.returncode or identity.get("gil_disabled") is not threaded:
        raise Failed(f"the built interpreter says gil_disabled={identity.get('gil_disabled')}, "
                     f"expected {threaded}")
    return identity


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="build_python.py", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("labels", nargs="*", metavar="LABEL",
                        help=f"MAJOR.MINOR (a GIL build) or MAJOR.MINORt (free-threaded, 3.13 on), "
                             f"as the suite serves them; default: {' '.join(DEFAULT_LABELS)}")
    parser.add_argument("--suite", default=DEFAULT_SUITE,
                        help=f"the Debian suite whose source package to build (default {DEFAULT_SUITE})")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="make -j (default: every CPU)")
    args = parser.parse_args(argv)
    if argv is None:  # as a command: a closed pipe (| head -1) ends it quietly, as it does cat
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    say = lambda line: print(f"build_python: {line}", flush=True)  # noqa: E731
    try:
        labels = args.labels or list(DEFAULT_LABELS)
        for label in labels:
            parse_label(label)
        if not re.fullmatch(r"[a-z][a-z0-9-]{1,30}", args.suite):
            raise Refused(f"--suite {args.suite!r} is not a Debian suite name such as trixie or sid")
        if args.jobs < 1:
            raise Refused("--jobs must be 1 or more")
        check_tools()
        pythons = cache_folder() / "pythons"
        pythons.mkdir(parents=True, exist_ok=True)
        with open(pythons / ".build.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # two calls: the second reuses the first's build
            apt = Apt(cache_folder() / "apt" / args.suite, args.suite, pythons / "build.log")
            for label in labels:
                build(label, apt, pythons, args.jobs, say)
    except Refused as exc:
        print(f"build_python: {exc}", file=sys.stderr)
        return 2
    except Failed as exc:
        print(f"build_python: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("build_python: interrupted; nothing half-built was kept", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
