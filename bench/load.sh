#!/usr/bin/env bash
# Many streaming clients at once through ragway, against the same load
# straight to the fake upstream in the same run (the baseline): N clients
# (default 500), each starting its next streamed chat as soon as the last
# one ended, for S seconds (default 60). The fake upstream paces its
# streams (FAKE_STREAM_DELAY_MS before each piece, default 20 ms, so an
# answer streams for a few hundred ms as a model's would). The knowledge
# base is empty, so this measures the gateway itself: auth, limits, model,
# conversation, relay, saving, the request log. Reports errors, p50/p99 to
# the first byte and to the end of each stream, ragway's peak RSS, and the
# request-log rows written against the requests made.
#
#   bench/load.sh [clients=500] [seconds=60]
#
# Prints a markdown table for BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
CLIENTS=${1:-500}
SECONDS_PER_ROUND=${2:-60}
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
. bench/common.sh

UP_PORT=19140
RW_PORT=19141
FAKE_STREAM_DELAY_MS=${FAKE_STREAM_DELAY_MS:-20} start_upstream "$UP_PORT"
start_ragway "$RW_PORT" "$WORK/data" --admin

body='{"model":"%s","stream":true,"messages":[{"role":"user","content":"Which berth does the evening ferry use?"}]}'
run() { # url model first_byte? seconds
  local flag=""
  [ "$3" = first ] && flag="--first-byte"
  "$BIN/examples/loadgen" --url "$1" --key "$KEY" --concurrency "$CLIENTS" --seconds "$4" $flag \
    --body "$(printf "$body" "$2")"
}
DIRECT="http://127.0.0.1:$UP_PORT/v1/chat/completions"
VIA="http://127.0.0.1:$RW_PORT/v1/chat/completions"
# Warm both paths (connections, SQLite pages).
run "$DIRECT" fake-chat last 2 > /dev/null
warm=$(run "$VIA" ragway last 2)

direct_first=$(run "$DIRECT" fake-chat first "$SECONDS_PER_ROUND")
via_first=$(run "$VIA" ragway first "$SECONDS_PER_ROUND")
direct_last=$(run "$DIRECT" fake-chat last "$SECONDS_PER_ROUND")
via_last=$(run "$VIA" ragway last "$SECONDS_PER_ROUND")
peak_kb=$(awk '/VmHWM/ {print $2}' "/proc/$RW_PID/status")
kill -TERM "$RW_PID"
wait "$RW_PID" 2>/dev/null || true

python3 - "$CLIENTS" "$SECONDS_PER_ROUND" "$peak_kb" "$WORK/data/ragway.db" "$direct_first" "$via_first" "$direct_last" "$via_last" "$warm" <<'PY'
import json, sqlite3, sys
clients, seconds, peak_kb, db = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
df, vf, dl, vl, warm = (json.loads(a) for a in sys.argv[5:10])
rows = sqlite3.connect(db).execute(
    "SELECT COUNT(*) FROM request_logs WHERE endpoint = '/v1/chat/completions'").fetchone()[0]
print(f"| measure | clients | seconds | direct requests (baseline) | direct p50 ms | direct p99 ms | ragway requests | ragway p50 ms | ragway p99 ms | added p50 ms | added p99 ms | errors direct/ragway |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for name, d, v in (("first byte", df, vf), ("whole stream", dl, vl)):
    print(f"| {name} | {clients} | {seconds} | {d['requests']} | {d['p50_ms']:.1f} | {d['p99_ms']:.1f} | {v['requests']} | "
          f"{v['p50_ms']:.1f} | {v['p99_ms']:.1f} | {v['p50_ms']-d['p50_ms']:+.1f} | {v['p99_ms']-d['p99_ms']:+.1f} | {d['errors']}/{v['errors']} |")
made = sum(r["requests"] + r["errors"] for r in (warm, vf, vl))
print(f"\nragway peak RSS: {peak_kb / 1024:.0f} MB; request log rows: {rows} for {made} requests made")
PY
