#!/usr/bin/env bash
# Run every test: unit, integration (real app + fake upstream), and the
# official `openai` Python package against a running server.
# Extra arguments go to `cargo test` (e.g. a test name filter).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/prereqs.sh
need_protoc
need_python_openai
cargo test --workspace --all-targets "$@"
