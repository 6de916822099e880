#!/usr/bin/env bash
# Set up .venv with the test extras if needed, then run the test suite (pytest options
# may follow).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/setup-venv.sh" test report lint reference
cd "$root"
exec "$root/.venv/bin/python" -m pytest -n auto "$@"   # pytest-xdist: one worker per CPU
