#!/usr/bin/env bash
# Set up .venv if needed, then run the default sweep (or `parkbench run` with the
# options given): a summary on stdout, results under results/<machine>/.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/setup-venv.sh" reference
cd "$root"
exec "$root/.venv/bin/parkbench" run "$@"
