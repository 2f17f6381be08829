# Sourced by the scripts in bench/: release builds, a temp directory removed
# (with every background process) on exit, and starting the fake upstream
# and ragway against it.
# shellcheck shell=bash
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ragway-target}"
BIN="$CARGO_TARGET_DIR/release"
cargo build -q --release --bin ragway --example fake_upstream --example loadgen

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
