#!/usr/bin/env bash
# Time to first token ragway adds to a grounded (RAG) streamed answer over a
# knowledge base of ~100k chunks with 1024-wide vectors: the same streamed
# request at the same rate, straight to the fake upstream (baseline) and
# through ragway (embed the question, vector and full-text search, fuse,
# prompt), in alternating rounds of one run. Latency runs from the request's
# due time to the first byte of the answer.
#
#   bench/rag_overhead.sh [rate=20] [seconds=10] [rounds=3] [megabytes=25]
#   RAG_VARIANTS="LANCE_CPU_THREADS=1;LANCE_CPU_THREADS=4" bench/rag_overhead.sh
#   RAG_VARIANTS="RAGWAY_BIN=/tmp/ragway-other" bench/rag_overhead.sh   # variants run every kind of round
#   RAG_KEEP=/tmp/kb bench/rag_overhead.sh   # keep the knowledge base afterwards
#   RAG_REUSE=/tmp/kb bench/rag_overhead.sh  # start from a kept one (a copy of it)
#   RAG_LOGS=/tmp/logs bench/rag_overhead.sh  # keep ragway's logs
#
# The knowledge base: generated English prose, 60-token chunks (so 25 MB
# makes ~100k chunks), embedded by the fake upstream's 1024-wide model;
# the script waits until ragway's vector index covers every chunk. Three
# kinds of rounds: "unfiltered" (every chunk in the caller's scope),
# "filtered" (another key has a private document) and "bound" (a model
# bound to the knowledge base's collection while another holds a
# document). Prints a markdown table, and where ragway's time went when its
# debug timings are logged.
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${1:-20}
SECONDS_PER_ROUND=${2:-10}
ROUNDS=${3:-3}
MEGABYTES=${4:-25}
. bench/common.sh

UP_PORT=19120
RW_PORT=19121
start_upstream "$UP_PORT"
rag_settings
if [ -n "${RAG_REUSE:-}" ]; then
  # A knowledge base kept by an earlier run (RAG_KEEP), its index complete.
  cp -a "$RAG_REUSE" "$WORK/data"
  chunks=$(cat "$WORK/data/bench-chunks")
fi
start_ragway "$RW_PORT" "$WORK/data" --admin

if [ -z "${RAG_REUSE:-}" ]; then
  python3 bench/gen_corpus.py text "$WORK/text" --files 10 --bytes $((MEGABYTES * 100000))
  loaded=$(python3 bench/ingest_load.py load --url "http://127.0.0.1:$RW_PORT" --key "$KEY" "$WORK/text"/*)
  chunks=$(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(r["chunks"]); assert not r["failed"], r' "$loaded")
fi
echo "knowledge base: $chunks chunks" >&2
# The vector index is built in the background as the table grows (trained
# again at 4x its size) and new rows are folded into it at each upkeep,
# the last one once the load has gone quiet: wait until it covers every row.
settle() { # rows [seconds=300]: until the index covers that many rows (at most that long) and ragway is idle
  if [ -n "${RAG_REUSE:-}" ] && [ "$1" = "$chunks" ]; then
    echo "vector index: as kept with the knowledge base" >&2
  else
    wait_covered "$WORK/data.log" "$1" "${2:-300}"
    echo "vector index covers ${INDEXED:-0} of $1 rows (${UNINDEXED:-?} unindexed)" >&2
  fi
  wait_idle "$RW_PID"
  echo "ragway idle: $IDLE_TICKS ticks in the last 2 s" >&2
}
settle "$chunks"

body() { printf '{"model":"%s","stream":true,"messages":[{"role":"user","content":"%s"}]}' "$1" "$2"; }
QUESTION="What did the committee decide about the harbour budget and the ferry schedule?"
DIRECT="http://127.0.0.1:$UP_PORT/v1/chat/completions"
VIA="http://127.0.0.1:$RW_PORT/v1/chat/completions"
run() { # url model
  "$BIN/examples/loadgen" --first-byte --url "$1" --key "$KEY" --rate "$RATE" --seconds "$SECONDS_PER_ROUND" --body "$(body "$2" "$QUESTION")"
}
# Warm both paths.
"$BIN/examples/loadgen" --url "$DIRECT" --rate 10 --seconds 1 --body "$(body fake-chat "$QUESTION")" > /dev/null
"$BIN/examples/loadgen" --url "$VIA" --key "$KEY" --rate 10 --seconds 1 --body "$(body ragway "$QUESTION")" > /dev/null

echo "| chunks | search | round | direct p50 ms | direct p99 ms | ragway p50 ms | ragway p99 ms | added p50 ms | added p99 ms | errors |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
rounds() { # label
  for round in $(seq "$ROUNDS"); do
    d=$(run "$DIRECT" fake-chat)
    r=$(run "$VIA" "${MODEL:-ragway}")
    python3 - "$chunks" "$1" "$round" "$d" "$r" <<'PY'
import json, sys
chunks, label, rnd, d, r = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4]), json.loads(sys.argv[5])
print(f"| {chunks} | {label} | {rnd} | {d['p50_ms']:.2f} | {d['p99_ms']:.2f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
      f"{r['p50_ms']-d['p50_ms']:+.2f} | {r['p99_ms']-d['p99_ms']:+.2f} | {d['errors']}/{r['errors']} |")
PY
  done
}
# Every stored chunk is in the caller's scope: the searches run unfiltered.
rounds unfiltered
# Variants: the same rounds against ragway restarted with other settings
# (RAG_VARIANTS="LANCE_CPU_THREADS=1;LANCE_CPU_THREADS=4 FOO=1", groups of
# environment settings separated by ';'), on the same knowledge base.
restart() { # log [VAR=value…]: RAGWAY_BIN=path runs another build of ragway
  local log=$1 bin="$BIN/ragway" setting
  shift
  for setting in "$@"; do
    case $setting in RAGWAY_BIN=*) bin=${setting#RAGWAY_BIN=} ;; esac
  done
  kill "$RW_PID"; wait "$RW_PID" 2>/dev/null || true
  env "$@" "$bin" serve 2>> "$log" &
  RW_PID=$!
  wait_for "http://127.0.0.1:$RW_PORT/health"
  "$BIN/examples/loadgen" --url "$VIA" --key "$KEY" --rate 10 --seconds 1 --body "$(body ragway "$QUESTION")" > /dev/null
}
variants=()
variant_rounds() { # label: the rounds again under each variant
  local n variant settings
  for n in "${!variants[@]}"; do
    variant=${variants[$n]}
    read -ra settings <<< "$variant"
    restart "$WORK/variant.$n.log" "${settings[@]}"
    rounds "$1, $variant"
  done
}
if [ -n "${RAG_VARIANTS:-}" ]; then
  IFS=';' read -ra variants <<< "$RAG_VARIANTS"
  variant_rounds unfiltered
  restart "$WORK/data.log"
fi
if [ -n "${RAG_KEEP:-}" ]; then
  rm -rf "$RAG_KEEP"
  cp -a "$WORK/data" "$RAG_KEEP"
  echo "$chunks" > "$RAG_KEEP/bench-chunks"
  echo "knowledge base kept in $RAG_KEEP" >&2
fi
# Another key's private document: from now on a key's searches must keep
# to its scope ("filtered" rounds: since session 17 they run unfiltered and
# drop the other key's rows; before, LanceDB's filter did).
OTHER=$("$BIN/ragway" keys create --name other | tail -1)
upload "http://127.0.0.1:$RW_PORT" "$OTHER" '{"title":"mine","visibility":"private","text":"A private note about the ferry."}'
settle $((chunks + 1)) 30
# Where each log's lines of each kind of round begin (for the stage tables).
declare -A from
mark() { # kind
  local log
  for log in "$WORK/data.log" $(for n in "${!variants[@]}"; do echo "$WORK/variant.$n.log"; done); do
    from["$log:$1"]=$(($( [ -f "$log" ] && wc -l < "$log" || echo 0) + 1))
  done
}
mark filtered
rounds filtered
variant_rounds filtered

# A model bound to the knowledge base's collection while another shared
# collection holds a document ("bound" rounds: LanceDB's filter before
# session 18; since, screened like the filtered rounds, with that
# collection's one chunk and the private one out of scope).
[ ${#variants[@]} -gt 0 ] && restart "$WORK/data.log"
upload "http://127.0.0.1:$RW_PORT" "$KEY" '{"title":"elsewhere","collection":"elsewhere","text":"A ferry timetable kept in another collection."}'
settle $((chunks + 2)) 30
curl -sf -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
  -d '{"id":"bound","collections":["default"]}' "http://127.0.0.1:$RW_PORT/api/admin/models" > /dev/null
mark bound
MODEL=bound rounds bound
MODEL=bound variant_rounds bound

# Where ragway's time goes, when its debug timings were logged
# (RUST_LOG=warn,ragway_store::vectors=info,ragway::chat=debug,ragway::retrieval=debug).
stages() { # log title [first line [last line]]
  python3 - "$1" "$2" "${3:-1}" "${4:-0}" <<'PY'
import re, sys
stages = {}
first, last = int(sys.argv[3]), int(sys.argv[4])
for number, line in enumerate(open(sys.argv[1], errors="replace"), 1):
    if number < first or (last and number > last):
        continue
    if "chat timings" not in line and "retrieval timings" not in line:
        continue
    for name, value in re.findall(r"(\w+_ms)=([0-9.]+)", line):
        stages.setdefault(name, []).append(float(value))
if stages:
    print(f"\n{sys.argv[2]}\n")
    print("| stage (ms from the start of its step) | requests | p50 | p90 | p99 |")
    print("| --- | --- | --- | --- | --- |")
    for name, values in stages.items():
        values.sort()
        at = lambda p: values[min(len(values) - 1, int(len(values) * p))]
        print(f"| {name} | {len(values)} | {at(0.5):.2f} | {at(0.9):.2f} | {at(0.99):.2f} |")
PY
}
kinds() { # log title: its stage tables, one for each kind of round
  stages "$1" "$2, unfiltered rounds:" 1 $((from[$1:filtered] - 1))
  stages "$1" "$2, filtered rounds:" "${from[$1:filtered]}" $((from[$1:bound] - 1))
  stages "$1" "$2, bound rounds:" "${from[$1:bound]}"
}
kinds "$WORK/data.log" "Default settings"
for n in "${!variants[@]}"; do
  kinds "$WORK/variant.$n.log" "${variants[$n]}"
done
# RAG_LOGS=dir: keep ragway's logs (the default build's and each variant's).
if [ -n "${RAG_LOGS:-}" ]; then
  mkdir -p "$RAG_LOGS"
  cp "$WORK"/*.log "$RAG_LOGS"/
fi
