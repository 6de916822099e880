#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment in .venv with the extras given
# as arguments, e.g. `scripts/setup-venv.sh test`. Sourced by bench.sh and test.sh.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PARKBENCH_PYTHON:-$(command -v python3.11 || command -v python3)}"
if [ ! -x "$root/.venv/bin/python" ]; then
    echo "parkbench: creating $root/.venv with $("$python" --version)" >&2
    "$python" -m venv "$root/.venv"
    "$root/.venv/bin/python" -m pip install --quiet --upgrade pip
fi
extras="$(IFS=,; echo "$*")"
spec="$root"
[ -n "$extras" ] && spec="$root[$extras]"
"$root/.venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$spec"
