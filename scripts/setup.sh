#!/usr/bin/env bash
# Create or refresh .venv with the pinned dependencies and claimwatch itself (editable).
# Used by scripts/demo.sh, scripts/test.sh and .ci/run; safe to run again (a no-op when nothing changed).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -c 'import sys; assert sys.version_info >= (3, 11), "claimwatch needs Python 3.11 or newer"'
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.requirements.sha256
want=$(cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  # setuptools and wheel first: the editable install below builds without isolation, with the pinned ones
  .venv/bin/python -m pip install --quiet --disable-pip-version-check "$(grep '^setuptools==' requirements.txt)" \
    "$(grep '^wheel==' requirements.txt)"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
  echo "$want" > "$stamp"
fi
