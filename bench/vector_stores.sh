#!/usr/bin/env bash
# `vector_stores.search` latency over a store of ~100k chunks (500 files of
# generated prose, 60-token chunks, the fake upstream's 1024-wide
# embeddings): the same search at the same rate, unfiltered and with an
# attribute filter that admits a tenth of the store's files, then a
# hundredth, in rotating rounds of one run. Latency runs from the request's
# due time to the last byte of the answer (embedding the query at the fake
# upstream, the SQL read of the store's files, the hybrid search inside the
# filter, fusion, reading the chunks).
#
#   bench/vector_stores.sh [rate=20] [seconds=10] [rounds=3] [megabytes=25]
#   VS_AFTER=/path/to/other/ragway bench/vector_stores.sh   # then the same rounds with another build, same data
#
# Prints a markdown table for BENCHMARKS.md. Needs release builds (the script
# makes them; BENCH_BIN=DIR uses those in DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${1:-20}
SECONDS_PER_ROUND=${2:-10}
ROUNDS=${3:-3}
MEGABYTES=${4:-25}
FILES=500
. bench/common.sh

UP_PORT=19160
RW_PORT=19161
start_upstream "$UP_PORT"
rag_settings
start_ragway "$RW_PORT" "$WORK/data" --admin
BASE="http://127.0.0.1:$RW_PORT"

python3 bench/gen_corpus.py text "$WORK/text" --files "$FILES" --bytes $((MEGABYTES * 1000000 / FILES))
loaded=$(python3 bench/ingest_load.py load --url "$BASE" --key "$KEY" "$WORK/text"/*)
chunks=$(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(r["chunks"]); assert not r["failed"], r' "$loaded")
echo "knowledge base: $chunks chunks in $FILES files" >&2

# One shared store holding every file, each with `group` = its place mod 100.
STORE=$(python3 - "$BASE" "$KEY" <<'PY'
import json, sys, time, urllib.request
base, key = sys.argv[1], sys.argv[2]
def call(method, path, body=None):
    req = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())
files = call("GET", "/v1/files?limit=10000")["data"]
store = call("POST", "/v1/vector_stores", {"name": "bench"})["id"]
for start in range(0, len(files), 500):
    batch = [{"file_id": f["id"], "attributes": {"group": (start + i) % 100}} for i, f in enumerate(files[start:start + 500])]
    done = call("POST", f"/v1/vector_stores/{store}/file_batches", {"files": batch})
    assert done["file_counts"]["completed"] == len(batch), done
print(store)
PY
)
settle() { wait_covered "$WORK/data.log" "$chunks" 300; echo "vector index covers ${INDEXED:-0} of $chunks rows (${UNINDEXED:-?} unindexed)" >&2; wait_idle "$RW_PID"; }
settle

Q="What did the committee decide about the harbour budget and the ferry schedule?"
body() { # filter (JSON or empty)
  if [ -z "$1" ]; then printf '{"query":"%s","max_num_results":10}' "$Q"
  else printf '{"query":"%s","max_num_results":10,"filters":%s}' "$Q" "$1"; fi
}
declare -A FILTERS=(
  [unfiltered]=""
  [tenth]='{"type":"lt","key":"group","value":10}'
  [hundredth]='{"type":"eq","key":"group","value":0}'
)
KINDS=(unfiltered tenth hundredth)
run() { # kind
  "$BIN/examples/loadgen" --url "$BASE/v1/vector_stores/$STORE/search" --key "$KEY" --rate "$RATE" \
    --seconds "$SECONDS_PER_ROUND" --body "$(body "${FILTERS[$1]}")"
}
for kind in "${KINDS[@]}"; do "$BIN/examples/loadgen" --url "$BASE/v1/vector_stores/$STORE/search" --key "$KEY" --rate 10 --seconds 1 --body "$(body "${FILTERS[$kind]}")" > /dev/null; done

echo "| build | chunks | round | search | p50 ms | p99 ms | p99 / unfiltered p99 | errors |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
BUILD=${BUILD_LABEL:-this}
rounds() {
for round in $(seq "$ROUNDS"); do
  declare -A got=()
  n=${#KINDS[@]}
  for i in $(seq 0 $((n - 1))); do
    k=${KINDS[$(((i + round - 1) % n))]}
    got[$k]=$(run "$k")
  done
  python3 - "$BUILD" "$chunks" "$round" "${got[unfiltered]}" "${got[tenth]}" "${got[hundredth]}" <<'PY'
import json, sys
build, chunks, rnd = sys.argv[1], sys.argv[2], sys.argv[3]
runs = list(zip(["unfiltered", "filter admits 10% of files", "filter admits 1% of files"], map(json.loads, sys.argv[4:])))
base = runs[0][1]["p99_ms"]
for name, r in runs:
    print(f"| {build} | {chunks} | {rnd} | {name} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['p99_ms'] / base:.2f} | {r['errors']} |")
PY
  unset got
done
}
rounds
if [ -n "${VS_AFTER:-}" ]; then
  kill "$RW_PID"; wait "$RW_PID" 2>/dev/null || true
  "$VS_AFTER" serve 2>> "$WORK/data.log" &
  RW_PID=$!
  wait_for "$BASE/health"
  for kind in "${KINDS[@]}"; do "$BIN/examples/loadgen" --url "$BASE/v1/vector_stores/$STORE/search" --key "$KEY" --rate 10 --seconds 1 --body "$(body "${FILTERS[$kind]}")" > /dev/null; done
  wait_idle "$RW_PID"
  BUILD=${AFTER_LABEL:-after}
  rounds
fi
