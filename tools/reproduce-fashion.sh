#!/usr/bin/env bash
# The Fashion-MNIST scene reproduction of docs/REPRODUCTION.md on 2 CPU cores:
#   tools/reproduce-fashion.sh [OUT] [long|short]
# long  (default): every head + egb:exp:alpha=0.3, 3 seeds, 1200 iterations (~80 min on one core)
# short: every head, 3 seeds, 400 iterations, and an exp-alpha sweep (~45 min on one core)
# Needs Debian's dataset-fashion-mnist, or FASHION_SOURCE=<folder with the four IDX .gz files>.
set -euo pipefail
OUT=${1:-runs/fashion}
SCHEDULE=${2:-long}
SOURCE=${FASHION_SOURCE:-/usr/share/datasets/fashion-mnist}
MODEL=(--backbone resnet18 --output-stride 16 --width 0.25 --crop 96 --batch 8 --lr 0.05 --log-every 10)

[ -f "$OUT/data/classes.txt" ] || npx seg data fashion --out "$OUT/data" --source "$SOURCE" --train 2000 --val 200 --size 96 --seed 0

if [ "$SCHEDULE" = long ]; then
  npx seg trace --data "$OUT/data" --heads softmax,egb,egb:pow3,linear,egb:exp:alpha=0.3 --seeds 0,1,2 \
    --iters 1200 --eval-every 150 --save-every 150 "${MODEL[@]}" --out "$OUT/long"
  npx seg compare "$OUT/long" --format md
  exit 0
fi

# Short schedule: every head of the design table, the same initial weights and batches per seed.
npx seg trace --data "$OUT/data" --heads softmax,egb,egb:pow3,linear --seeds 0,1,2 \
  --iters 400 --eval-every 50 --save-every 50 "${MODEL[@]}" --out "$OUT/short"
npx seg compare "$OUT/short" --format md
# The exp boost's alpha (default 1/K = 0.0909 for 11 classes) against 0.3 and 0.03.
npx seg trace --data "$OUT/data" --heads egb:exp:alpha=0.3,egb:exp:alpha=0.03 --seeds 0,1,2 \
  --iters 400 --eval-every 50 --save-every 50 "${MODEL[@]}" --out "$OUT/alpha"
# Against softmax: the softmax runs of the short trace share seeds, weights and batches.
mkdir -p "$OUT/alpha-vs-softmax"
{ cat "$OUT/short/trace.csv"; tail -n +2 "$OUT/alpha/trace.csv"; } \
  | awk -F, 'NR == 1 || $1 == "softmax" || $1 == "egb" || /alpha=/' > "$OUT/alpha-vs-softmax/trace.csv"
npx seg compare "$OUT/alpha-vs-softmax" --format md
