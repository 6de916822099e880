"""The committed results as a fixed snapshot: what git holds under results/ at HEAD,
extracted once per test session. Tests read this, never the working results/ folder that
``bash scripts/bench.sh`` writes to (a sweep run before or beside the tests must not
change what they see)."""

import atexit
import functools
import shutil
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).parent.parent


@functools.cache
def results() -> Path:
    """A folder holding HEAD's results/ (the working folder if this is not a git checkout)."""
    if not (ROOT / ".git").exists():
        return ROOT / "results"
    folder = Path(tempfile.mkdtemp(prefix="parkbench-committed-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", "HEAD", "results"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder / "results"
