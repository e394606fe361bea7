#!/usr/bin/env bash
# `make test`: set up what is missing, then run the whole suite against a separate test
# database (mibo_test, rebuilt each run) and Redis database 15.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
# Unset APP_ENV means production; the suite and the processes it starts run as test.
export APP_ENV=test
.venv/bin/ruff check mibo jobs schemas tests bench
exec .venv/bin/python -m pytest "$@"
