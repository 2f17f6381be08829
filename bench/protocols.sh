#!/usr/bin/env bash
# Latency each client protocol adds over OpenAI chat: the same question at
# the same rate (open loop) through /v1/chat/completions (the baseline),
# /v1/responses (kept, the default, and with `store: false`), /v1/messages
# and Gemini's generateContent, whole and streamed, one after another in
# each round of one run (each round starting with the next protocol), against the fake upstream (an empty knowledge base:
# the protocols, not retrieval, are timed).
#
#   bench/protocols.sh [rate=200] [seconds=10] [rounds=3]
#
# Prints a markdown table for BENCHMARKS.md. Needs release builds (the script
# makes them; BENCH_BIN=DIR uses those in DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${1:-200}
SECONDS_PER_ROUND=${2:-10}
ROUNDS=${3:-3}
. bench/common.sh

UP_PORT=19150
RW_PORT=19151
start_upstream "$UP_PORT"
start_ragway "$RW_PORT" "$WORK/data"
BASE="http://127.0.0.1:$RW_PORT"
Q="What is the tide schedule for the harbour this week?"

# url PROTOCOL STREAM / body PROTOCOL STREAM: each protocol's request.
url() {
  case "$1" in
    chat) echo "$BASE/v1/chat/completions" ;;
    responses | responses_unkept) echo "$BASE/v1/responses" ;;
    anthropic) echo "$BASE/v1/messages" ;;
    gemini) if [ "$2" = true ]; then echo "$BASE/v1beta/models/ragway:streamGenerateContent?alt=sse";
            else echo "$BASE/v1beta/models/ragway:generateContent"; fi ;;
  esac
}
body() {
  case "$1" in
    chat) printf '{"model":"ragway","stream":%s,"messages":[{"role":"user","content":"%s"}]}' "$2" "$Q" ;;
    responses) printf '{"model":"ragway","stream":%s,"input":"%s"}' "$2" "$Q" ;;
    responses_unkept) printf '{"model":"ragway","stream":%s,"store":false,"input":"%s"}' "$2" "$Q" ;;
    anthropic) printf '{"model":"ragway","max_tokens":256,"stream":%s,"messages":[{"role":"user","content":"%s"}]}' "$2" "$Q" ;;
    gemini) printf '{"contents":[{"role":"user","parts":[{"text":"%s"}]}]}' "$Q" ;;
  esac
}
PROTOCOLS=(chat responses responses_unkept anthropic gemini)
run() { # protocol stream [rate] [seconds]
  "$BIN/examples/loadgen" --url "$(url "$1" "$2")" --key "$KEY" --rate "${3:-$RATE}" \
    --seconds "${4:-$SECONDS_PER_ROUND}" --body "$(body "$1" "$2")"
}

# Warm every path (connection pools, SQLite page cache).
for stream in false true; do
  for p in "${PROTOCOLS[@]}"; do run "$p" "$stream" 100 1 > /dev/null; done
done

echo "| mode | round | protocol | p50 ms | p99 ms | added p50 ms | added p99 ms | errors |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
for stream in false true; do
  for round in $(seq "$ROUNDS"); do
    # Each round starts with another protocol, so that none is always first.
    declare -A got=()
    n=${#PROTOCOLS[@]}
    for i in $(seq 0 $((n - 1))); do
      p=${PROTOCOLS[$(((i + round - 1) % n))]}
      got[$p]=$(run "$p" "$stream")
    done
    results=()
    for p in "${PROTOCOLS[@]}"; do results+=("$p=${got[$p]}"); done
    unset got
    python3 - "$stream" "$round" "${results[@]}" <<'PY'
import json, sys
stream, rnd = sys.argv[1], sys.argv[2]
runs = [a.split("=", 1) for a in sys.argv[3:]]
runs = [(name, json.loads(data)) for name, data in runs]
base = runs[0][1]
mode = "stream" if stream == "true" else "non-stream"
for name, r in runs:
    added = "—" if name == "chat" else f"{r['p50_ms']-base['p50_ms']:+.2f}"
    added99 = "—" if name == "chat" else f"{r['p99_ms']-base['p99_ms']:+.2f}"
    print(f"| {mode} | {rnd} | {name} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {added} | {added99} | {r['errors']} |")
PY
  done
done
