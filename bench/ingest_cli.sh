#!/usr/bin/env bash
# ragway-ingest over a folder of many small files: the first run uploads and
# waits for every document; the second run, on the same folder, should find
# every hash already on the server and skip it. The first run is the
# baseline: the second is reported as a fraction of it.
#
#   bench/ingest_cli.sh [files=2000] [concurrency=4]
#
# Files are 1-4 KB .txt and .md in nested folders. Release builds of ragway,
# the fake upstream (embeddings) and ragway-ingest. Prints a markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
FILES=${1:-2000}
CONCURRENCY=${2:-4}
. bench/common.sh
cargo build -q --release -p ragway-ingest

UP_PORT=19120
RW_PORT=19121
start_upstream "$UP_PORT"
start_ragway "$RW_PORT" "$WORK/data" --admin

python3 bench/gen_corpus.py small "$WORK/files" --count "$FILES"
MB=$(du -sb "$WORK/files" | awk '{ printf "%.1f", $1 / 1e6 }')

ingest() { # run-number: times one ragway-ingest run, prints "seconds report-file"
  local start end rc=0
  start=$(date +%s.%N)
  "$BIN/ragway-ingest" --server "http://127.0.0.1:$RW_PORT" --key "$KEY" --concurrency "$CONCURRENCY" \
    --quiet --report "$WORK/report-$1.json" "$WORK/files" > "$WORK/ingest-$1.out" 2> "$WORK/ingest-$1.log" || rc=$?
  end=$(date +%s.%N)
  if [[ ! -f "$WORK/report-$1.json" ]]; then # rc 1 (some files failed) still writes the report
    echo "ragway-ingest run $1 exited $rc without a report:" >&2
    tail -5 "$WORK/ingest-$1.log" "$WORK/ingest-$1.out" >&2
    return 1
  fi
  echo "$start $end"
}
first=$(ingest 1) || exit 1
second=$(ingest 2) || exit 1

echo "| run | files | MB (on disk) | concurrency | wall s | files/s | ingested | duplicates (skipped) | failed | time vs first run |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
python3 - "$MB" "$CONCURRENCY" "$first" "$second" "$WORK/report-1.json" "$WORK/report-2.json" <<'PY'
import json, sys
mb, conc = sys.argv[1], sys.argv[2]
times = [float(b) - float(a) for a, b in (s.split() for s in sys.argv[3:5])]
for n, (t, path) in enumerate(zip(times, sys.argv[5:7]), 1):
    r = json.load(open(path))
    files = len(r["files"])
    print(f"| {'first' if n == 1 else 'second (re-run)'} | {files} | {mb} | {conc} | {t:.2f} | {files / t:.1f} | "
          f"{r['ingested']} | {r['duplicates']} | {r['failed']} | {t / times[0]:.1%} |")
PY
