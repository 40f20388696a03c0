#!/usr/bin/env bash
# One command from a fresh clone: set up .venv, lint and type-check the code, run the test suite.
# PostgreSQL tests run when CLAIMWATCH_TEST_PG_URL is set; CLAIMWATCH_REQUIRE_SERVICES=1 turns every
# skipped service test (PostgreSQL, Chromium) into a failure, as CI does.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check monitor crawler pipelines tests bench
.venv/bin/mypy
# one test process per core, at most four (pytest-xdist); CLAIMWATCH_TEST_WORKERS=0 runs the suite in this
# process (e.g. to debug with pdb), or N in N processes
exec .venv/bin/pytest -n "${CLAIMWATCH_TEST_WORKERS:-auto}" --maxprocesses 4 "$@"
