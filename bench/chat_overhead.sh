#!/usr/bin/env bash
# Latency ragway adds to a chat request: the same load, at the same rate, sent
# straight to the fake upstream and through ragway (a model with an empty
# knowledge base, so no retrieval), in alternating rounds of one run.
#
#   bench/chat_overhead.sh [rate=200] [seconds=10] [rounds=3]
#   CHAT_OTHER_BIN=/tmp/ragway-old bench/chat_overhead.sh   # another build, in the same rounds
#
# Prints a markdown table for BENCHMARKS.md. Needs release builds (the script
# makes them; the first one takes a while).
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${1:-200}
SECONDS_PER_ROUND=${2:-10}
ROUNDS=${3:-3}
. bench/common.sh

UP_PORT=19100
RW_PORT=19101
start_upstream "$UP_PORT"
start_ragway "$RW_PORT" "$WORK/data"

body() { printf '{"model":"%s","stream":%s,"messages":[{"role":"user","content":"What is the tide schedule for the harbour this week?"}]}' "$1" "$2"; }
run() { # name url model stream
  "$BIN/examples/loadgen" --url "$2" --key "$KEY" --rate "$RATE" --seconds "$SECONDS_PER_ROUND" --body "$(body "$3" "$4")"
}
DIRECT="http://127.0.0.1:$UP_PORT/v1/chat/completions"
VIA="http://127.0.0.1:$RW_PORT/v1/chat/completions"
# Another build of ragway (CHAT_OTHER_BIN), beside this one with its own
# data: each round then runs it too, after this build's turn.
OTHER_KEY=
[ -z "${CHAT_OTHER_BIN:-}" ] || start_other "$CHAT_OTHER_BIN" $((RW_PORT + 1))
other() { # stream: the other build's result, or {} without one
  if [ -n "$OTHER_KEY" ]; then
    "$BIN/examples/loadgen" --url "$OTHER" --key "$OTHER_KEY" --rate "$RATE" --seconds "$SECONDS_PER_ROUND" --body "$(body ragway "$1")"
  else
    echo '{}'
  fi
}

# Warm both paths (connection pools, SQLite page cache).
for stream in false true; do
  "$BIN/examples/loadgen" --url "$DIRECT" --rate 100 --seconds 1 --body "$(body fake-chat $stream)" > /dev/null
  "$BIN/examples/loadgen" --url "$VIA" --key "$KEY" --rate 100 --seconds 1 --body "$(body ragway $stream)" > /dev/null
  [ -z "$OTHER_KEY" ] || "$BIN/examples/loadgen" --url "$OTHER" --key "$OTHER_KEY" --rate 100 --seconds 1 --body "$(body ragway $stream)" > /dev/null
done

if [ -n "$OTHER_KEY" ]; then
  echo "| mode | round | direct p50 ms | direct p99 ms | ragway p50 ms | ragway p99 ms | added p50 ms | added p99 ms | other build: added p50 ms | added p99 ms | errors |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
else
  echo "| mode | round | direct p50 ms | direct p99 ms | ragway p50 ms | ragway p99 ms | added p50 ms | added p99 ms | errors |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
fi
for stream in false true; do
  for round in $(seq "$ROUNDS"); do
    d=$(run direct "$DIRECT" fake-chat "$stream")
    r=$(run ragway "$VIA" ragway "$stream")
    o=$(other "$stream")
    python3 - "$stream" "$round" "$d" "$r" "$o" <<'PY'
import json, sys
stream, rnd = sys.argv[1], sys.argv[2]
d, r, o = (json.loads(a) for a in sys.argv[3:6])
mode = "stream" if stream == "true" else "non-stream"
row = (f"| {mode} | {rnd} | {d['p50_ms']:.2f} | {d['p99_ms']:.2f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
       f"{r['p50_ms']-d['p50_ms']:+.2f} | {r['p99_ms']-d['p99_ms']:+.2f} | ")
errors = f"{d['errors']}/{r['errors']}"
if o:
    row += f"{o['p50_ms']-d['p50_ms']:+.2f} | {o['p99_ms']-d['p99_ms']:+.2f} | "
    errors += f"/{o['errors']}"
print(row + errors + " |")
PY
  done
done
