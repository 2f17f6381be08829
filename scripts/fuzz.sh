#!/usr/bin/env bash
# Fuzz the document extractors (crate `extract/`, targets in `fuzz/`) with
# libFuzzer through cargo fuzz, each target for a bounded time. Not part of
# CI's time budget; results go in BENCHMARKS.md's reliability notes.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET=60] [TARGET…]
#
# Seeds: the fixtures (every format) and fixtures/hostile/make.py's corpus
# without its two large JSON files. A crash is saved under
# fuzz/artifacts/TARGET/; turn it into a fixture and a test
# (tests/api/hostile_extract.rs), then fix the parser or its limits.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(extract_pdf extract_html extract_docx detect_decode)

command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
# cargo fuzz passes -Z flags (sanitizers, coverage); this lets the stable toolchain take them.
export RUSTC_BOOTSTRAP=1
# Its own target directory: the sanitizer flags would otherwise rebuild the server's.
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$HOME/.cache/ragway-fuzz-target}"

seeds=$(mktemp -d)
trap 'rm -rf "$seeds"' EXIT
python3 - "$seeds" <<'PY'
import os, sys
sys.path.insert(0, "fixtures/hostile")
import make
out = sys.argv[1]
# Small versions, so that each run is quick: 2,000 levels, 16 x 256 KiB.
with open(os.path.join(out, "nested.html"), "wb") as f:
    f.write(make.nested_html(2_000))
with open(os.path.join(out, "bomb.pdf"), "wb") as f:
    f.write(make.bomb_pdf(256 * 1024, 16))
PY

for target in "${targets[@]}"; do
  corpus="fuzz/corpus/$target"
  mkdir -p "$corpus"
  case "$target" in
    extract_pdf) cp fixtures/*.pdf fixtures/bad/*.pdf fixtures/hostile/*.pdf "$seeds/bomb.pdf" "$corpus/" ;;
    extract_html) cp fixtures/*.html "$seeds/nested.html" "$corpus/" ;;
    extract_docx) cp fixtures/*.docx fixtures/bad/*.docx "$corpus/" ;;
    detect_decode) cp fixtures/*.txt fixtures/*.md fixtures/bad/*.txt "$corpus/" ;;
  esac
  echo "== $target for ${secs}s" >&2
  (cd fuzz && cargo fuzz run "$target" "corpus/$target" -- \
      -max_total_time="$secs" -rss_limit_mb=2048 -timeout=30 -max_len=262144 -print_final_stats=1) \
    2>&1 | grep -E "^(stat::|#[0-9]+.*DONE|==[0-9]+==|SUMMARY|artifact_prefix|Test unit written)" || true
  if ls "fuzz/artifacts/$target"/crash-* "fuzz/artifacts/$target"/oom-* "fuzz/artifacts/$target"/timeout-* >/dev/null 2>&1; then
    echo "!! $target found inputs that fail: fuzz/artifacts/$target/" >&2
  fi
done
