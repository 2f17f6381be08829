#!/usr/bin/env bash
# Ordinary chat at a fixed rate (open loop: 200 requests a second by
# default, each from its own conversation) through ragway, alone and then
# while one client sends the largest chat request ragway accepts (a 50 MB
# body: 48 messages of about 1 MB, so 49 MB of history to save) over and
# over, in alternating rounds of one run. Every exchange is saved, the large
# ones too; the ordinary requests' p99 with and without them is the
# measure (a large save must not hold SQLite's write lock for long).
# BESIDE_OTHER_BIN runs another build through the same rounds.
#
#   bench/large_beside.sh [rate=200] [seconds=10] [rounds=3]
#
# Prints a markdown table for BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${1:-200}
SECONDS_PER_ROUND=${2:-10}
ROUNDS=${3:-3}
. bench/common.sh

UP_PORT=19150
RW_PORT=19151
start_upstream "$UP_PORT"
export RAGWAY_MAX_BODY_BYTES=$((50 * 1024 * 1024))
# Every large exchange is saved: the per-key total must not refuse them.
export RAGWAY_MAX_KEY_STORED_BYTES=$((1 << 40))
start_ragway "$RW_PORT" "$WORK/data"
VIA="http://127.0.0.1:$RW_PORT/v1/chat/completions"
targets="this"
if [ -n "${BESIDE_OTHER_BIN:-}" ]; then
  start_other "$BESIDE_OTHER_BIN" $((RW_PORT + 1))
  targets="this other"
fi

# The large body: 48 messages of 1,000,000 characters, users and assistants in turn.
python3 - "$WORK/large.json" <<'PY'
import json, sys
n = 48
messages = [{"role": "user" if (n - 1 - i) % 2 == 0 else "assistant",
             "content": f"{i}:" + "x" * 1_000_000} for i in range(n)]
json.dump({"model": "ragway", "messages": messages}, open(sys.argv[1], "w"))
PY
body='{"model":"ragway","messages":[{"role":"user","content":"Which berth does the evening ferry use?"}]}'

ordinary() { # url key
  "$BIN/examples/loadgen" --url "$1" --key "$2" --rate "$RATE" --seconds "$SECONDS_PER_ROUND" --body "$body"
}
# large URL KEY STOPFILE: large requests one after another until STOPFILE
# exists; prints how many were answered 200 and how many were not.
large() {
  local ok=0 bad=0 code
  while [ ! -e "$3" ]; do
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $2" \
      -H 'Content-Type: application/json' --data-binary "@$WORK/large.json" "$1")
    if [ "$code" = 200 ]; then ok=$((ok + 1)); else bad=$((bad + 1)); fi
  done
  echo "$ok $bad"
}

ordinary "$VIA" "$KEY" > /dev/null # warm
echo "| build | round | large requests beside | ordinary requests | errors | p50 ms | p99 ms | max ms | large answered / failed |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for round in $(seq "$ROUNDS"); do
  for target in $targets; do
    url=$VIA key=$KEY
    [ "$target" = other ] && url=$OTHER key=$OTHER_KEY
    for beside in no yes; do
      counts="-"
      if [ "$beside" = yes ]; then
        rm -f "$WORK/stop"
        large "$url" "$key" "$WORK/stop" > "$WORK/large.out" &
        LARGE_PID=$!
        sleep 1 # the first large request under way
      fi
      figures=$(ordinary "$url" "$key")
      if [ "$beside" = yes ]; then
        touch "$WORK/stop"
        wait "$LARGE_PID"
        counts=$(awk '{print $1 " / " $2}' "$WORK/large.out")
      fi
      python3 - "$target" "$round" "$beside" "$figures" "$counts" <<'PY'
import json, sys
target, round_, beside, figures, counts = sys.argv[1:6]
f = json.loads(figures)
print(f"| {target} | {round_} | {beside} | {f['requests']} | {f['errors']} | {f['p50_ms']:.2f} | "
      f"{f['p99_ms']:.2f} | {f.get('max_ms', float('nan')):.2f} | {counts} |")
PY
    done
  done
done
