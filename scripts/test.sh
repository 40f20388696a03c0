#!/usr/bin/env bash
# One command from a fresh clone: set up .venv, lint and type-check the code, run the test suite.
# PostgreSQL tests run when CLAIMWATCH_TEST_PG_URL is set; CLAIMWATCH_REQUIRE_SERVICES=1 turns every
# skipped service test (PostgreSQL, Chromium) into a failure, as CI does.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check monitor crawler pipelines tests bench
.venv/bin/mypy
exec .venv/bin/pytest "$@"
