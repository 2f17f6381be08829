# Sourced by the scripts in bench/: release builds, a temp directory removed
# (with every background process) on exit, and starting the fake upstream
# and ragway against it.
# shellcheck shell=bash
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ragway-target}"
# BENCH_BIN=DIR runs the binaries already in DIR (a dev build's
# target/debug, say, for the quality benchmark, which times nothing).
if [ -n "${BENCH_BIN:-}" ]; then
  BIN=$BENCH_BIN
else
  BIN="$CARGO_TARGET_DIR/release"
  cargo build -q --release --bin ragway --example fake_upstream --example loadgen --example extract_bench
fi

WORK=$(mktemp -d)
cleanup() { kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

# wait_for URL…: until every URL answers (20 s at most).
wait_for() {
  for _ in $(seq 200); do
    local url ok=1
    for url in "$@"; do curl -sf "$url" > /dev/null || { ok=0; break; }; done
    [ "$ok" = 1 ] && return 0
    sleep 0.1
  done
  echo "timed out waiting for $*" >&2
  return 1
}

# start_upstream PORT: the fake upstream in the background (UP_PID), with
# ragway's chat and embeddings settings pointed at it.
start_upstream() {
  "$BIN/examples/fake_upstream" "127.0.0.1:$1" > /dev/null &
  UP_PID=$!
  export RAGWAY_CHAT_BASE_URL="http://127.0.0.1:$1" RAGWAY_CHAT_MODEL=fake-chat
  export RAGWAY_EMBED_BASE_URL="http://127.0.0.1:$1"
  wait_for "http://127.0.0.1:$1/v1/models"
}

# start_ragway PORT DATA_DIR [keys-create flags…]: a key (KEY), then ragway
# serving in the background (RW_PID; its log in DATA_DIR.log), ready.
start_ragway() {
  local port=$1 data=$2
  shift 2
  export RAGWAY_DATA_DIR="$data" RAGWAY_LISTEN="127.0.0.1:$port"
  export RUST_LOG="${RUST_LOG:-warn}"
  KEY=$("$BIN/ragway" keys create --name bench "$@" | tail -1)
  "$BIN/ragway" serve 2> "$data.log" &
  RW_PID=$!
  wait_for "http://127.0.0.1:$port/health"
}

# start_other BIN PORT: another build of ragway (BIN) serving in the
# background on PORT with data of its own under WORK/other, ready; its key
# in OTHER_KEY, its chat URL in OTHER (for benches that time two builds in
# the same rounds).
start_other() {
  OTHER_KEY=$(RAGWAY_DATA_DIR="$WORK/other" "$1" keys create --name bench | tail -1)
  RAGWAY_DATA_DIR="$WORK/other" RAGWAY_LISTEN="127.0.0.1:$2" "$1" serve 2> "$WORK/other.log" &
  wait_for "http://127.0.0.1:$2/health"
  OTHER="http://127.0.0.1:$2/v1/chat/completions"
}

# The settings of the RAG benches' knowledge base (rag_overhead.sh builds
# it, rag_instructions.sh reuses it): the fake upstream's 1024-wide
# embeddings, 60-token chunks, and ragway's upkeep logged (its "vector index
# coverage" lines tell when it is done).
rag_settings() {
  export RAGWAY_EMBED_MODEL=fake-1024 RAGWAY_CHUNK_SIZE=60 RAGWAY_CHUNK_OVERLAP=0
  export RUST_LOG="${RUST_LOG:-warn,ragway_store::vectors=info}"
}

# upload URL KEY JSON: POST a document to ragway at URL, then wait until it
# is ready (30 s at most; fails if it is not).
upload() {
  local doc doc_id
  doc=$(curl -sf -H "Authorization: Bearer $2" -H 'Content-Type: application/json' -d "$3" "$1/v1/documents")
  doc_id=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "$doc")
  for _ in $(seq 300); do
    curl -sf -H "Authorization: Bearer $2" "$1/v1/documents/$doc_id" | grep -q '"status":"ready"' && return 0
    sleep 0.1
  done
  echo "document $doc_id not ready" >&2
  return 1
}

# wait_covered LOG ROWS [seconds=300]: until ragway's last coverage line in
# LOG says its vector index covers ROWS rows with none left out (at most that
# long); INDEXED and UNINDEXED hold what it said last.
wait_covered() {
  INDEXED="" UNINDEXED=""
  for _ in $(seq "${3:-300}"); do
    read -r INDEXED UNINDEXED <<< "$(grep "vector index coverage" "$1" | tail -1 |
      sed -n 's/.*indexed=\([0-9]*\) unindexed=\([0-9]*\).*/\1 \2/p')" || true
    [ "${UNINDEXED:-1}" = 0 ] && [ "${INDEXED:-0}" -ge "$2" ] && return 0
    sleep 1
  done
  return 0
}

# wait_idle PID [tries=90]: until the process uses under 5 % of a core over
# 2 s (tries × 2 s at most; the upkeep may still be compacting and merging
# indexes); IDLE_TICKS holds the last 2 s's CPU ticks.
wait_idle() {
  local before after
  for _ in $(seq "${2:-90}"); do
    before=$(awk '{print $14 + $15}' "/proc/$1/stat"); sleep 2
    after=$(awk '{print $14 + $15}' "/proc/$1/stat")
    IDLE_TICKS=$((after - before))
    [ "$IDLE_TICKS" -le 10 ] && return 0
  done
  return 0
}
