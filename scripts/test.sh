#!/usr/bin/env bash
# Run every test: unit, integration (real app + fake upstream), the
# official client packages (Python's openai, anthropic, google-genai and
# mcp, Node's openai) against a running server, and the web
# admin in a real browser (scripts/browser-test.sh: Debian's chromium
# driven by playwright-core).
#
# With RAGWAY_TEST_POSTGRES=postgres://user@host:port/db set, the integration
# suite runs a second time in the scaled-out mode: PostgreSQL (each test in a
# fresh database) with blobs and LanceDB in S3 (moto_server, each test under
# a prefix of its own).
# Extra arguments go to `cargo test` (e.g. a test name filter).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/prereqs.sh
need_protoc
need_python_openai
need_node_openai
need_test_model

echo "== tests on SQLite (the embedded default)" >&2
RAGWAY_TEST_POSTGRES= DATABASE_URL= cargo test --workspace --all-targets "$@"

echo "== the web admin in a real browser" >&2
scripts/browser-test.sh

# The scaled-out mode: PostgreSQL, and blobs and LanceDB in an S3 bucket
# (moto, an S3-compatible server started here).
if [ -n "${RAGWAY_TEST_POSTGRES:-}" ]; then
  if command -v psql >/dev/null 2>&1; then
    # Databases of earlier runs: each test makes its own and cannot drop it while its pool lives.
    psql "$RAGWAY_TEST_POSTGRES" -tAc "SELECT datname FROM pg_database WHERE datname LIKE 'ragway_test_%'" \
      | while read -r db; do psql "$RAGWAY_TEST_POSTGRES" -qc "DROP DATABASE IF EXISTS \"$db\"" >/dev/null; done
  fi
  need_moto
  s3_log=$(mktemp)
  start_test_s3 "$s3_log"
  trap 'kill $MOTO_PID 2>/dev/null || true; rm -f "$s3_log"' EXIT
  echo "== integration tests on PostgreSQL ($RAGWAY_TEST_POSTGRES) and S3 ($RAGWAY_TEST_S3)" >&2
  cargo test --test api "$@"
fi
