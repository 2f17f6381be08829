#!/usr/bin/env bash
# Run ragway on embedded defaults (./data), building it first if needed.
# Extra arguments go to `ragway serve` (see `scripts/serve.sh --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/prereqs.sh
need_protoc
exec cargo run --release --bin ragway -- serve "$@"
