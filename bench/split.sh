#!/usr/bin/env bash
# Splitting throughput (benches/split.rs, criterion): token-sized chunks as
# ingestion makes them (512 tokens, overlap 64, cl100k) against the baseline,
# character-sized chunks (2048 chars) on the same text, in the same run.
#
#   bench/split.sh [extra criterion args]
#
# Prints a markdown table with MB/s (10^6 bytes per second) and the ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ragway-target}"
cargo bench -q --bench split -- "$@" >&2
python3 - "$CARGO_TARGET_DIR/criterion" <<'PY'
import json, os, sys
root = sys.argv[1]

def mbps(group, bench):
    d = os.path.join(root, group, bench)
    size = json.load(open(os.path.join(d, "new", "benchmark.json")))["throughput"]["Bytes"]
    est = json.load(open(os.path.join(d, "new", "estimates.json")))["mean"]
    to = lambda ns: size / ns * 1e3  # bytes per ns -> MB/s
    return to(est["point_estimate"]), to(est["confidence_interval"]["upper_bound"]), to(est["confidence_interval"]["lower_bound"]), size

print("| text | input MB | chars 2048 MB/s (baseline) | tokens 512/64 MB/s | tokens / chars |")
print("| --- | --- | --- | --- | --- |")
for group, label in [("split_english", "English, plain"), ("split_chinese", "Chinese, plain"),
                     ("split_english_markdown", "English, markdown")]:
    c, clo, chi, size = mbps(group, "chars_2048")
    t, tlo, thi, _ = mbps(group, "tokens_512_overlap_64")
    print(f"| {label} | {size / 1e6:.2f} | {c:.1f} ({clo:.1f}–{chi:.1f}) | {t:.2f} ({tlo:.2f}–{thi:.2f}) | {t / c:.3f} |")
PY
