#!/usr/bin/env bash
# A longer schemathesis run (nightly): many examples per operation and role, on SQLite by default,
# or on PostgreSQL with MTB_TEST_DATABASE_URL set. Prints the number of requests sent.
set -euo pipefail
cd "$(dirname "$0")/.."
make install
MTB_FUZZ_EXAMPLES="${MTB_FUZZ_EXAMPLES:-100}" .venv/bin/python -m pytest -q -s -p no:randomly \
    -W ignore::DeprecationWarning tests/security/test_fuzz.py
