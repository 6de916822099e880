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
    # the wheel alone, in a folder of its own ahead of everything else on the path; its
    # dependencies come from this environment (installing them again proves nothing here)
    target = tmp_path / "installed"
    _run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
          "--no-deps", "--target", str(target), str(wheel)], cwd=tmp_path)
    env = {**os.environ, "PYTHONPATH": str(target)}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    def parkbench(*arguments):
        done = subprocess.run([sys.executable, "-m", "parkbench", *arguments], cwd=elsewhere,
                              capture_output=True, text=True, timeout=600, env=env)
        assert done.returncode == 0, (arguments, done.stdout[-2000:], done.stderr[-2000:])
        return done

    located = subprocess.run([sys.executable, "-c", "import parkbench; print(parkbench.__file__)"],
                             cwd=elsewhere, capture_output=True, text=True, env=env, timeout=60)
    assert located.stdout.startswith(str(target))  # the installed copy, not the checkout
    done = parkbench("run", "--models", "asyncio:event", "--n", "1000,3000,10000", "--output", "res",
                     "--machine", "wheel-box")
    assert "one-way hand-off" in done.stdout and "FAILED" not in done.stderr
    assert list((elsewhere / "res" / "wheel-box").glob("2*/switch-asyncio-future-same-core.json"))
    parkbench("report", "--results", "res")
    assert (elsewhere / "res" / "report.html").stat().st_size > 10_000
    # the Go programs' sources travel in the wheel too
    assert (target / "parkbench" / "resources" / "goprobe" / "main.go").is_file()
    assert (target / "parkbench" / "resources" / "loadgen" / "main.go").is_file()
