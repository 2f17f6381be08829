#!/usr/bin/env bash
# Which PDFs ragway reads against poppler's pdftotext, in one run: the test
# resources of pypdf (real-world and malformed files: broken cross-reference
# tables and trailers, unsupported CMaps, content outside BT/ET, every kind
# of encryption), the project's fixtures, and 200 generated PDFs. A file
# counts as read when the tool gets any non-blank text from it; ragway runs
# exactly what the server runs (`ragway extract-child`, default limits).
#
#   bench/pdf_coverage.sh [RAGWAY_BIN]     (default: the dev build)
#
# Prints a markdown table and the files pdftotext reads that ragway does not.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-${CARGO_TARGET_DIR:-$HOME/.cache/ragway-target}/debug/ragway}
[ -x "$BIN" ] || cargo build -q --bin ragway
command -v pdftotext >/dev/null 2>&1 || {
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get install -y -q poppler-utils >/dev/null 2>&1 ||
    { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q poppler-utils >/dev/null; }
}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
python3 -m pip download -q --no-binary :all: --no-deps "pypdf==7.1.1" -d "$WORK" >/dev/null
tar xzf "$WORK"/pypdf-7.1.1.tar.gz -C "$WORK"
python3 bench/gen_corpus.py pdf "$WORK/generated" --count 200 >/dev/null

read_by_ragway() { # non-blank bytes of text, 0 when it fails
  (ulimit -v 4000000; timeout 120 "$BIN" extract-child --mime application/pdf \
      --max-inflated-bytes 419430400 < "$1" 2>/dev/null) |
    python3 -c 'import json, sys
raw = sys.stdin.buffer.read()
head, _, text = raw.partition(b"\n")
try:
    ok = json.loads(head).get("ok")
except ValueError:
    ok = False
print(len(b"".join(text.split())) if ok else 0)'
}
read_by_pdftotext() { timeout 120 pdftotext -q "$1" - 2>/dev/null | tr -d '[:space:]' | wc -c; }

echo "| corpus | files | pdftotext reads | ragway reads | both | pdftotext only | ragway only |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
missed=()
for corpus in "pypdf resources:$WORK/pypdf-7.1.1/resources" "fixtures:fixtures" "generated:$WORK/generated"; do
  name=${corpus%%:*} dir=${corpus#*:}
  n=0 p=0 r=0 both=0 ponly=0 ronly=0
  while IFS= read -r -d '' f; do
    n=$((n + 1))
    pt=$(read_by_pdftotext "$f") rw=$(read_by_ragway "$f")
    [ "$pt" -gt 0 ] && p=$((p + 1))
    [ "$rw" -gt 0 ] && r=$((r + 1))
    if [ "$pt" -gt 0 ] && [ "$rw" -gt 0 ]; then both=$((both + 1)); fi
    if [ "$pt" -gt 0 ] && [ "$rw" -eq 0 ]; then ponly=$((ponly + 1)); missed+=("$name/${f#"$dir"/}"); fi
    if [ "$pt" -eq 0 ] && [ "$rw" -gt 0 ]; then ronly=$((ronly + 1)); fi
  done < <(find "$dir" -name '*.pdf' -print0 | sort -z)
  echo "| $name | $n | $p | $r | $both | $ponly | $ronly |"
done
if [ ${#missed[@]} -gt 0 ]; then
  echo
  echo "read by pdftotext, not by ragway: ${missed[*]}"
fi
