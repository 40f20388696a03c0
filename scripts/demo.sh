#!/usr/bin/env bash
# One command from a fresh clone: set up .venv, then run the whole loop offline on the bundled sellers.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/claimwatch demo "$@"
