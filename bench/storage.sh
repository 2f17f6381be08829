#!/usr/bin/env bash
# Retrieval latency with LanceDB in an S3 bucket (moto_server, an
# S3-compatible server started here) against LanceDB on local disk: the same
# seeded chunks and queries (benches/retrieval.rs), one run. moto keeps
# objects in a Python process's memory and is much slower than real S3 or
# MinIO: the ratio is an upper bound on what the network store costs.
#
#   bench/storage.sh [rows=10000]
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-10000}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ragway-target}"
. scripts/prereqs.sh
need_moto
OUT=$(mktemp -d)
start_test_s3 "$OUT/moto.log"
trap 'kill $MOTO_PID 2>/dev/null || true; rm -rf "$OUT"' EXIT

RETRIEVAL_SIZES=$ROWS cargo bench -q --bench retrieval > "$OUT/local.md" 2> "$OUT/local.log"
RETRIEVAL_S3=$RAGWAY_TEST_S3 RETRIEVAL_S3_BUCKET=ragway-test RETRIEVAL_SIZES=$ROWS \
  cargo bench -q --bench retrieval > "$OUT/s3.md" 2> "$OUT/s3.log"

python3 - "$OUT/local.md" "$OUT/s3.md" <<'PY'
import sys
def rows(path):
    out = {}
    for line in open(path):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 5 and cells[0].isdigit():
            out[(cells[0], cells[1], cells[2])] = (float(cells[3]), float(cells[4]))
    return out
local, s3 = rows(sys.argv[1]), rows(sys.argv[2])
print("| rows | search | clients | local p50 ms | local p99 ms | S3 (moto) p50 ms | S3 (moto) p99 ms | p50 ratio | p99 ratio |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for key, (lp50, lp99) in local.items():
    if key not in s3 or "floor" in key[1]:
        continue
    sp50, sp99 = s3[key]
    print(f"| {key[0]} | {key[1]} | {key[2]} | {lp50:.2f} | {lp99:.2f} | {sp50:.2f} | {sp99:.2f} | {sp50/lp50:.1f} | {sp99/lp99:.1f} |")
PY
