#!/usr/bin/env bash
# Run fog's test suite in the checkout's .venv (created or updated as needed).
#
#   ./scripts/test.sh                      # everything
#   ./scripts/test.sh tests/contract -x    # extra arguments go to pytest
#
# PYTHON=python3.12 ./scripts/test.sh picks the interpreter for a new .venv.
set -euo pipefail

# shellcheck source=scripts/_venv.sh
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
ensure_venv test

cd "$FOG_ROOT"
exec "$FOG_VENV/bin/python" -m pytest -q "$@"
