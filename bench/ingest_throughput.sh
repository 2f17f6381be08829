#!/usr/bin/env bash
# Ingest throughput: generated files uploaded to a release ragway (embeddings
# from the release fake upstream), timed from the first upload until the last
# document is `ready`. Baseline in the same run: the same files, client and
# concurrency POSTed to a sink that only reads the bytes (raw transfer).
#
#   bench/ingest_throughput.sh [rounds=1]
#
#   (a) plain text: 10 files x 5 MB of English prose (50 MB)
#   (b) PDFs: 200 small generated PDFs, 1-3 pages of text each
#
# Each round of each phase gets a fresh server and data directory (uploads of
# the same bytes would be duplicates). RAGWAY_INGEST_WORKERS,
# RAGWAY_EMBED_BATCH_SIZE, RAGWAY_CHUNK_SIZE … from the environment pass
# through to the server, for experiments; BENCH_PHASES="text" runs one phase;
# BENCH_KEEP_LOGS=DIR keeps each server's log and its CPU seconds per thread
# name. Prints a markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-1}
. bench/common.sh

UP_PORT=19110
RW_PORT=19111
SINK_PORT=19112
start_upstream "$UP_PORT"
python3 bench/ingest_load.py sink "$SINK_PORT" &
wait_for "http://127.0.0.1:$SINK_PORT/"

python3 bench/gen_corpus.py text "$WORK/text" --files 10 --bytes 5000000
python3 bench/gen_corpus.py pdf "$WORK/pdf" --count 200

export RUST_LOG="${RUST_LOG:-info,lance=warn,lancedb=warn,lance_core=warn,sqlx=warn}"

cpu_s() { # user+system CPU seconds of a process so far
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print ($12 + $13) / hz }' "/proc/$1/stat"
}
kib() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$2/status"; }

echo "| phase | round | files | MB | sink upload s | ragway POSTs s | end-to-end s | x sink | MB/s | files/s | chunks | chunks/s | failed | ragway CPU s | upstream CPU s | idle RSS MiB | peak RSS MiB |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for phase in ${BENCH_PHASES:-text pdf}; do
  for round in $(seq "$ROUNDS"); do
    start_ragway "$RW_PORT" "$WORK/ragway-$phase-$round" --admin
    idle_kib=$(kib VmRSS "$RW_PID")
    files=("$WORK/$phase"/*)
    sink=$(python3 bench/ingest_load.py load --url "http://127.0.0.1:$SINK_PORT" --no-wait "${files[@]}")
    rw_cpu0=$(cpu_s "$RW_PID") up_cpu0=$(cpu_s "$UP_PID")
    result=$(python3 bench/ingest_load.py load --url "http://127.0.0.1:$RW_PORT" --key "$KEY" "${files[@]}")
    rw_cpu=$(awk "BEGIN { print $(cpu_s "$RW_PID") - $rw_cpu0 }") up_cpu=$(awk "BEGIN { print $(cpu_s "$UP_PID") - $up_cpu0 }")
    peak_kib=$(kib VmHWM "$RW_PID")
    if [[ -n "${BENCH_KEEP_LOGS:-}" ]]; then
      for t in /proc/"$RW_PID"/task/*; do echo "$(cat "$t/comm") $(cpu_s "${t#/proc/}")"; done |
        awk '{ s[$1] += $2 } END { for (k in s) print k, s[k] }' > "$BENCH_KEEP_LOGS/threads-$phase-$round.txt"
    fi
    kill "$RW_PID"; wait "$RW_PID" 2>/dev/null || true
    python3 - "$phase" "$round" "$sink" "$result" "$rw_cpu" "$up_cpu" "$idle_kib" "$peak_kib" <<'PY'
import json, sys
phase, rnd, sink, r = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
rw_cpu, up_cpu, idle, peak = (float(x) for x in sys.argv[5:9])
mb, t = r["bytes"] / 1e6, r["total_s"]
print(f"| {phase} | {rnd} | {r['files']} | {mb:.1f} | {sink['upload_s']:.2f} | {r['upload_s']:.2f} | {t:.2f} | "
      f"{t / sink['upload_s']:.0f}x | {mb / t:.2f} | {r['files'] / t:.1f} | {r['chunks']} | {r['chunks'] / t:.0f} | "
      f"{r['failed']} | {rw_cpu:.1f} | {up_cpu:.1f} | {idle / 1024:.0f} | {peak / 1024:.0f} |")
if r["errors"]:
    print("failures:", r["errors"], file=sys.stderr)
PY
    if [[ -n "${BENCH_KEEP_LOGS:-}" ]]; then cp "$WORK/ragway-$phase-$round.log" "$BENCH_KEEP_LOGS/"; fi
  done
done
