#!/usr/bin/env bash
# What the request log costs a chat request: the same load at the same rate
# through two ragway servers on one fake upstream, one with request logs on
# and one with them off (RAGWAY_REQUEST_LOGS=false), in alternating rounds
# of one run. After the rounds the logging server is stopped (which stores
# its last rows) and its rows are counted against the requests it served.
#
#   bench/log_overhead.sh [rate=200] [seconds=10] [rounds=3]
#
# Prints a markdown table for BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${1:-200}
SECONDS_PER_ROUND=${2:-10}
ROUNDS=${3:-3}
. bench/common.sh

UP_PORT=19130
ON_PORT=19131
OFF_PORT=19132
start_upstream "$UP_PORT"
RAGWAY_REQUEST_LOGS=false start_ragway "$OFF_PORT" "$WORK/off"
KEY_OFF=$KEY
RAGWAY_REQUEST_LOGS=true start_ragway "$ON_PORT" "$WORK/on"
KEY_ON=$KEY
ON_PID=$RW_PID

body='{"model":"ragway","messages":[{"role":"user","content":"What is the tide schedule for the harbour this week?"}]}'
run() { # port key [seconds]
  "$BIN/examples/loadgen" --url "http://127.0.0.1:$1/v1/chat/completions" --key "$2" \
    --rate "$RATE" --seconds "${3:-$SECONDS_PER_ROUND}" --body "$body"
}
# Warm both (connection pools, SQLite page cache).
run "$OFF_PORT" "$KEY_OFF" 1 > /dev/null
run "$ON_PORT" "$KEY_ON" 1 > /dev/null

echo "| round | logs off p50 ms (baseline) | logs off p99 ms | logs on p50 ms | logs on p99 ms | added p50 ms | added p99 ms | errors |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
requests=$RATE # the warm-up second
for round in $(seq "$ROUNDS"); do
  off=$(run "$OFF_PORT" "$KEY_OFF")
  on=$(run "$ON_PORT" "$KEY_ON")
  requests=$(python3 -c 'import json,sys; print(int(sys.argv[1]) + json.loads(sys.argv[2])["requests"])' "$requests" "$on")
  python3 - "$round" "$off" "$on" <<'PY'
import json, sys
rnd, off, on = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
print(f"| {rnd} | {off['p50_ms']:.2f} | {off['p99_ms']:.2f} | {on['p50_ms']:.2f} | {on['p99_ms']:.2f} | "
      f"{on['p50_ms']-off['p50_ms']:+.3f} | {on['p99_ms']-off['p99_ms']:+.3f} | {off['errors']}/{on['errors']} |")
PY
done
kill -TERM "$ON_PID"
wait "$ON_PID" 2>/dev/null || true
python3 - "$WORK/on/ragway.db" "$requests" <<'PY'
import sqlite3, sys
db, made = sys.argv[1], int(sys.argv[2])
rows = sqlite3.connect(db).execute("SELECT COUNT(*) FROM request_logs WHERE endpoint = '/v1/chat/completions'").fetchone()[0]
print(f"\nrequest log rows: {rows} for {made} requests made")
PY
