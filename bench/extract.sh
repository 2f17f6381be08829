#!/usr/bin/env bash
# Extraction in a child process against in-process, in one run: the same
# files, the same concurrency (RAGWAY_EXTRACT_CONCURRENCY's default, 2),
# alternating rounds, median seconds of each (examples/extract_bench.rs).
#
#   bench/extract.sh [rounds=3]
#
#   pdf:   200 generated PDFs of 1-3 pages (bench/gen_corpus.py pdf)
#   text:  10 x 5 MB of English prose (50 MB)
#   small: 2,000 files of 1-4 KB, txt and md (decoded in-process, no child)
#   html:  2,000 pages of 1-4 KB (a child's cost per document shows here)
#
# The parsed corpora (pdf, html) run twice: with the server's default of 64
# documents per forked child, and with 1 (a fresh fork for every document).
# The ratio is in-process seconds / child seconds: 1.0 means no cost, the
# target is >= 0.8. Prints a markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
. bench/common.sh

python3 bench/gen_corpus.py pdf "$WORK/pdf" --count 200 > /dev/null
python3 bench/gen_corpus.py text "$WORK/text" --files 10 --bytes 5000000 > /dev/null
python3 bench/gen_corpus.py small "$WORK/small" --count 2000 > /dev/null
python3 bench/gen_corpus.py html "$WORK/html" --count 2000 > /dev/null

echo "| corpus | files | MB | documents per child | in-process s | as the server runs it s | throughput ratio (in-process s / server's s) |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for corpus in pdf html text small; do
  RAGWAY_BIN="$BIN/ragway" "$BIN/examples/extract_bench" "$WORK/$corpus" "$ROUNDS" 2
done
for corpus in pdf html; do
  DOCS_PER_PROCESS=1 RAGWAY_BIN="$BIN/ragway" "$BIN/examples/extract_bench" "$WORK/$corpus" "$ROUNDS" 2
done
