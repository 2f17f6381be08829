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
  for pkg in openai anthropic; do
    if ! python3 -c "import $pkg" >/dev/null 2>&1; then
      echo "installing the $pkg Python package (used by the client compatibility tests)" >&2
      python3 -m pip install -q "$pkg" >/dev/null 2>&1 \
        || python3 -m pip install -q --break-system-packages "$pkg"
    fi
  done
}
