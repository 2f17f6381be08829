#!/usr/bin/env bash
# CPU instructions ragway spends on one grounded (RAG) streamed answer, by
# kind of search, counted by valgrind's callgrind: a count that does not
# move with what else the machine is doing (unlike the times of
# rag_overhead.sh, whose p99 on a shared VM swings by 5–8 ms between rounds).
# It runs on a knowledge base kept by rag_overhead.sh (RAG_KEEP=dir), to
# which it adds, with ragway running normally, another key's private
# document, a document in a second shared collection, and a model bound
# to the first collection. Then ragway runs under callgrind and answers
# the same question N times for each (key, model):
#
#   unfiltered: the other key, all shared collections (nothing out of scope)
#   filtered:   the bench key (the other key's private chunk out of scope)
#   bound:      the bench key with the bound model (two chunks out of scope)
#
#   RAG_REUSE=/tmp/kb bench/rag_instructions.sh [requests=20]
#   RAG_VARIANTS="RAGWAY_BIN=/tmp/ragway-old" RAG_REUSE=/tmp/kb bench/rag_instructions.sh   # other builds too
#   RAG_PROFILE=/tmp/cg RAG_REUSE=/tmp/kb bench/rag_instructions.sh   # keep the callgrind files
#
# Prints a markdown table: instructions per request (millions), and the
# ratio to the unfiltered kind of the same build. The fake upstream runs
# outside valgrind: its instructions are not counted.
set -euo pipefail
cd "$(dirname "$0")/.."
REQUESTS=${1:-20}
: "${RAG_REUSE:?set RAG_REUSE to a knowledge base kept by RAG_KEEP=dir bench/rag_overhead.sh}"
command -v valgrind > /dev/null || { echo "valgrind is needed" >&2; exit 1; }
. bench/common.sh

UP_PORT=19130
RW_PORT=19131
start_upstream "$UP_PORT"
rag_settings
cp -a "$RAG_REUSE" "$WORK/data"
chunks=$(cat "$WORK/data/bench-chunks")
start_ragway "$RW_PORT" "$WORK/data" --admin
BASE="http://127.0.0.1:$RW_PORT"

OTHER=$("$BIN/ragway" keys create --name other | tail -1)
upload "$BASE" "$OTHER" '{"title":"mine","visibility":"private","text":"A private note about the ferry."}'
upload "$BASE" "$KEY" '{"title":"elsewhere","collection":"elsewhere","text":"A ferry timetable kept in another collection."}'
curl -sf -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
  -d '{"id":"bound","collections":["default"]}' "$BASE/api/admin/models" > /dev/null
# settle LOG PID ROWS: until an upkeep has reported (in LOG) an index
# covering ROWS rows with none left out, then until PID is idle; 10 minutes
# at most each.
settle() {
  wait_covered "$1" "$3" 600
  wait_idle "$2" 300
}
# The upkeep folds the two documents in (compaction, index merges).
settle "$WORK/data.log" "$RW_PID" $((chunks + 2))
kill "$RW_PID"; wait "$RW_PID" 2>/dev/null || true

QUESTION="What did the committee decide about the harbour budget and the ferry schedule?"
body() { printf '{"model":"%s","stream":true,"messages":[{"role":"user","content":"%s"}]}' "$1" "$QUESTION"; }
ask() { # key model: one streamed answer, read to its end
  curl -sf -N -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
    -d "$(body "$2")" "$BASE/v1/chat/completions" > /dev/null
}
# counted LABEL BIN: ragway (BIN) under callgrind, instrumented only once it
# serves; for each kind, the counters zeroed, REQUESTS answers, a dump.
counted() {
  local label=$1 bin=$2 out="$WORK/cg.$1" pid kind key model
  valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out" \
    "$bin" serve 2> "$WORK/valgrind.$label.log" &
  pid=$!
  for _ in $(seq 600); do curl -sf "$BASE/health" > /dev/null && break; sleep 0.5; done
  # A restarted server runs an upkeep first: not counted.
  settle "$WORK/valgrind.$label.log" "$pid" $((chunks + 2))
  callgrind_control -i on "$pid" > /dev/null 2>&1
  for kind in unfiltered filtered bound; do
    case $kind in
      unfiltered) key=$OTHER model=ragway ;;
      filtered) key=$KEY model=ragway ;;
      bound) key=$KEY model=bound ;;
    esac
    # Warm this path (first opens, caches), then count.
    for _ in 1 2 3; do ask "$key" "$model"; done
    callgrind_control -z "$pid" > /dev/null 2>&1
    for _ in $(seq "$REQUESTS"); do ask "$key" "$model"; done
    callgrind_control -d "$kind" "$pid" > /dev/null 2>&1
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true
}
total() { # callgrind file: its instruction count
  awk '/^(summary|totals):/ {print $2; exit}' "$1"
}
labels=("this build") bins=("$BIN/ragway")
if [ -n "${RAG_VARIANTS:-}" ]; then
  IFS=';' read -ra variants <<< "$RAG_VARIANTS"
  for variant in "${variants[@]}"; do
    labels+=("$variant") bins+=("${variant#RAGWAY_BIN=}")
  done
fi
echo "| build | search | requests | instructions per request (M) | ratio to unfiltered |"
echo "| --- | --- | --- | --- | --- |"
for n in "${!bins[@]}"; do
  label=${labels[$n]}
  counted "$n" "${bins[$n]}"
  base="" dump=0
  for kind in unfiltered filtered bound; do
    # callgrind numbers its dumps in order: .1 unfiltered, .2 filtered, .3 bound.
    dump=$((dump + 1))
    count=$(total "$WORK/cg.$n.$dump")
    base=${base:-$count}
    python3 -c 'import sys; c, b, n = map(int, sys.argv[1:4]); print(f"| {sys.argv[4]} | {sys.argv[5]} | {n} | {c / n / 1e6:.2f} | {c / b:.3f} |")' \
      "$count" "$base" "$REQUESTS" "$label" "$kind"
  done
done
if [ -n "${RAG_PROFILE:-}" ]; then
  mkdir -p "$RAG_PROFILE"
  cp "$WORK"/cg.* "$RAG_PROFILE"/
  echo "callgrind files kept in $RAG_PROFILE (callgrind_annotate --inclusive=yes FILE)" >&2
fi
