#!/usr/bin/env bash
# The Fashion-MNIST scene reproduction of docs/REPRODUCTION.md: every head, 3 seeds, a
# width-0.25 ResNet-18 DeepLab-v3 at output stride 16, on 2 CPU cores (about 40 minutes).
# Needs Debian's dataset-fashion-mnist (or pass the IDX folder as FASHION_SOURCE).
set -euo pipefail
OUT=${1:-runs/fashion}
SOURCE=${FASHION_SOURCE:-/usr/share/datasets/fashion-mnist}
TRAIN=(--iters 400 --eval-every 50 --log-every 10 --save-every 50 --backbone resnet18 --output-stride 16
       --width 0.25 --crop 96 --batch 8 --lr 0.05)

[ -f "$OUT/data/classes.txt" ] || npx seg data fashion --out "$OUT/data" --source "$SOURCE" --train 2000 --val 200 --size 96 --seed 0

# Every head of the design table, the same initial weights and batches per seed.
npx seg trace --data "$OUT/data" --heads softmax,egb,egb:pow3,linear --seeds 0,1,2 "${TRAIN[@]}" --out "$OUT/trace"
npx seg compare "$OUT/trace" --format md

# The exp boost's alpha (default 1/K = 0.0909 for 11 classes) against 0.3 and 0.03.
npx seg trace --data "$OUT/data" --heads egb:exp:alpha=0.3,egb:exp:alpha=0.03 --seeds 0,1,2 "${TRAIN[@]}" --out "$OUT/alpha"
# Compare them against softmax: the softmax runs of the first trace share seeds, weights and batches.
mkdir -p "$OUT/alpha-vs-softmax"
{ cat "$OUT/trace/trace.csv"; tail -n +2 "$OUT/alpha/trace.csv"; } | awk -F, 'NR == 1 || $1 == "softmax" || $1 == "egb" || /alpha=/' > "$OUT/alpha-vs-softmax/trace.csv"
npx seg compare "$OUT/alpha-vs-softmax" --format md
