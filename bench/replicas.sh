#!/usr/bin/env bash
# Chat throughput of one ragway replica against two, both on the same
# PostgreSQL database (the machine's; RAGWAY_BENCH_POSTGRES overrides): the
# same streamed chat request (a key lookup, a conversation saved, a request
# log row: the SQL-bound path) at rising rates, straight to the fake
# upstream (baseline), through replica A alone, and split evenly over A and
# B. Reports the highest rate whose p99 time to first byte stays within
# 50 ms of the baseline's. Two replicas on one 2-core machine share its
# cores: the figure shows what sharing the database costs, not what a second
# machine would add.
#
#   bench/replicas.sh [seconds=10] [rates=100,200,400,800]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_STEP=${1:-10}
RATES=${2:-100,200,400,800}
PG=${RAGWAY_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}
. bench/common.sh

DB="ragway_bench_$$"
psql "$PG" -qc "CREATE DATABASE $DB" > /dev/null
export DATABASE_URL="${PG%/*}/$DB"
export RAGWAY_SECRET_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=
export RAGWAY_BLOB_URL="file://$WORK/blobs" RAGWAY_VECTOR_URL="$WORK/lancedb"
trap 'cleanup; psql "$PG" -qc "DROP DATABASE IF EXISTS $DB" > /dev/null 2>&1 || true' EXIT

start_upstream 19130
start_ragway 19131 "$WORK/a"
A_KEY=$KEY
start_ragway 19132 "$WORK/b"

body='{"model":"ragway","stream":true,"messages":[{"role":"user","content":"Say hello."}]}'
run() { # url rate
  "$BIN/examples/loadgen" --first-byte --url "$1" --key "$A_KEY" --rate "$2" --seconds "$SECONDS_PER_STEP" --body "$body"
}
# Warm up every path.
run "http://127.0.0.1:19130/v1/chat/completions" 20 > /dev/null
run "http://127.0.0.1:19131/v1/chat/completions" 20 > /dev/null
run "http://127.0.0.1:19132/v1/chat/completions" 20 > /dev/null

echo "| rate req/s | direct p99 ms | one replica p99 ms | added | two replicas p99 ms | added | errors (one / two) |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for rate in ${RATES//,/ }; do
  d=$(run "http://127.0.0.1:19130/v1/chat/completions" "$rate")
  one=$(run "http://127.0.0.1:19131/v1/chat/completions" "$rate")
  run "http://127.0.0.1:19131/v1/chat/completions" $((rate / 2)) > "$WORK/two-a.json" &
  run "http://127.0.0.1:19132/v1/chat/completions" $((rate - rate / 2)) > "$WORK/two-b.json"
  wait %%
  python3 - "$rate" "$d" "$one" "$WORK/two-a.json" "$WORK/two-b.json" <<'PY'
import json, sys
rate, d, one = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
a, b = (json.load(open(p)) for p in sys.argv[4:6])
two_p99 = max(a["p99_ms"], b["p99_ms"])
mark = lambda added: f"{added:+.1f}" + ("" if added <= 50 else " (over 50)")
print(f"| {rate} | {d['p99_ms']:.1f} | {one['p99_ms']:.1f} | {mark(one['p99_ms'] - d['p99_ms'])} | "
      f"{two_p99:.1f} | {mark(two_p99 - d['p99_ms'])} | {one['errors']} / {a['errors'] + b['errors']} |")
PY
done
