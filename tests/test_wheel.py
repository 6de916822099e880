"""An installed wheel works without the checkout: the switch benchmark and the report
notebook travel inside the package (parkbench.resources)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # builds a wheel and a virtual environment

ROOT = Path(__file__).resolve().parent.parent


def _run(command, cwd, timeout=600):
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)})
    assert done.returncode == 0, (command, done.stdout[-2000:], done.stderr[-2000:])
    return done


def test_a_wheel_installed_outside_the_checkout_runs_a_sweep_and_the_report(tmp_path):
    wheels = tmp_path / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(wheels), str(ROOT)],
         cwd=tmp_path)
    (wheel,) = wheels.glob("parkbench-*.whl")
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path)
    python = venv / "bin" / "python"
    _run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
          f"{wheel}[report]"], cwd=tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    located = _run([str(python), "-c", "import parkbench, sys; print(parkbench.__file__)"], cwd=elsewhere)
    assert str(ROOT) not in located.stdout  # the installed copy, not the checkout
    parkbench = str(venv / "bin" / "parkbench")
    done = _run([parkbench, "run", "--models", "asyncio:event", "--n", "5,10,20",
                 "--output", "res", "--machine", "wheel-box"], cwd=elsewhere)
    assert "one-way hand-off" in done.stdout and "FAILED" not in done.stderr
    assert list((elsewhere / "res" / "wheel-box").glob("2*/switch-asyncio-future-same-core.json"))
    done = _run([parkbench, "report", "--results", "res"], cwd=elsewhere)
    assert (elsewhere / "res" / "report.html").stat().st_size > 10_000
