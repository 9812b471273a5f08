#!/usr/bin/env bash
# Reproduction v2 of docs/REPRODUCTION.md: Fashion-MNIST scenes, ResNet-18 width 0.5, 8000 iterations,
# a per-head learning-rate grid on seed 0, then 3 seeds at each head's selected lr.
#   tools/reproduce-fashion-v2.sh OUT grid-a   # softmax, egb:pow3, linear at every lr of the grid, seed 0
#   tools/reproduce-fashion-v2.sh OUT grid-b   # egb (alpha 1/K), egb:exp:alpha=0.3 at every lr, seed 0
#   tools/reproduce-fashion-v2.sh OUT grid     # both grids gathered in OUT/grid, compared with --select best-lr
#   tools/reproduce-fashion-v2.sh OUT seeds    # seeds 1,2 of every head at its selected lr (needs the grid done)
#   tools/reproduce-fashion-v2.sh OUT compare  # grid + seeds gathered in OUT/all; the comparison at 90% and 95%
#   tools/reproduce-fashion-v2.sh OUT progress # while runs train: OUT/progress/trace.csv from every run folder, compared
# grid-a and grid-b are independent processes (one per core); every phase resumes where it stopped.
# SEG overrides the command (default: npx seg), e.g. SEG="node /path/to/dist/cli/main.js".
# Needs Debian's dataset-fashion-mnist, or FASHION_SOURCE=<folder with the four IDX .gz files>.
set -euo pipefail
OUT=${1:?usage: tools/reproduce-fashion-v2.sh OUT grid-a|grid-b|grid|seeds|compare|progress}
PHASE=${2:?usage: tools/reproduce-fashion-v2.sh OUT grid-a|grid-b|grid|seeds|compare|progress}
SEG=${SEG:-npx seg}
SOURCE=${FASHION_SOURCE:-/usr/share/datasets/fashion-mnist}
# The settings of docs/REPRODUCTION.md; WIDTH, ITERS, EVAL_EVERY, CROP, BATCH and LRS only for smoke tests.
LRS=${LRS:-0.05,0.02,0.1}
HEADS_A=softmax,egb:pow3,linear
HEADS_B=egb,egb:exp:alpha=0.3
EVAL_EVERY=${EVAL_EVERY:-250}
MODEL=(--backbone resnet18 --output-stride 16 --width "${WIDTH:-0.5}" --crop "${CROP:-96}" --batch "${BATCH:-8}" --iters "${ITERS:-8000}"
  --eval-every "$EVAL_EVERY" --save-every "$EVAL_EVERY" --log-every "${LOG_EVERY:-10}" --momentum 0.9 --weight-decay 1e-4 --poly-power 0.9)

[ -f "$OUT/data/classes.txt" ] || $SEG data fashion --out "$OUT/data" --source "$SOURCE" --train 2000 --val 200 --size 96 --seed 0

# trace.csv files of several traces in one folder (same header; each run appears in one of them).
gather() {
  local dest=$1; shift
  mkdir -p "$dest"
  { head -n 1 "$1/trace.csv"; for dir in "$@"; do [ -f "$dir/trace.csv" ] && tail -n +2 "$dir/trace.csv"; done; } > "$dest/trace.csv"
}

case "$PHASE" in
  grid-a) $SEG trace --data "$OUT/data" --heads "$HEADS_A" --lrs "$LRS" --seeds 0 "${MODEL[@]}" --out "$OUT/grid-a" ;;
  grid-b) $SEG trace --data "$OUT/data" --heads "$HEADS_B" --lrs "$LRS" --seeds 0 "${MODEL[@]}" --out "$OUT/grid-b" ;;
  grid)
    gather "$OUT/grid" "$OUT/grid-a" "$OUT/grid-b"
    $SEG compare "$OUT/grid" --select best-lr --format md
    ;;
  seeds)
    gather "$OUT/grid" "$OUT/grid-a" "$OUT/grid-b"
    # Each head at the lr its seed-0 grid selected: one trace per head (--lrs applies to every head of a trace).
    $SEG compare "$OUT/grid" --select best-lr --json --no-charts \
      | node -e 'const c = JSON.parse(require("fs").readFileSync(0, "utf8")); for (const h of c.heads) console.log(`${h.head}\t${h.lr}`);' \
      | while IFS=$'\t' read -r head lr; do
          slug=$(printf '%s' "$head" | tr -c 'A-Za-z0-9.=_-' '_')
          $SEG trace --data "$OUT/data" --heads "$head" --lrs "$lr" --seeds 1,2 "${MODEL[@]}" --out "$OUT/seeds/$slug"
        done
    ;;
  compare)
    gather "$OUT/all" "$OUT/grid-a" "$OUT/grid-b" "$OUT"/seeds/*
    $SEG compare "$OUT/all" --select best-lr --format md
    $SEG compare "$OUT/all" --select best-lr --target 0.9 --format md --no-charts
    ;;
  progress)
    # trace.csv of each trace as it stands, unfinished runs included (built from the runs' trace.jsonl).
    DIST=$(cd "$(dirname "$0")/.." && pwd)/dist
    mkdir -p "$OUT/progress"
    node --input-type=module -e '
      import { existsSync, readFileSync } from "node:fs";
      import { join } from "node:path";
      const [dist, out, ...traces] = process.argv.slice(1);
      const { runCsvRows, traceRunDir } = await import(join(dist, "experiments/convergence-trace.js"));
      const { writeTraceCsv } = await import(join(dist, "experiments/trace-csv.js"));
      const rows = [];
      for (const dir of traces) {
        if (!existsSync(join(dir, "trace.json"))) continue;
        const m = JSON.parse(readFileSync(join(dir, "trace.json"), "utf8"));
        for (const seed of m.seeds) for (const head of m.heads) for (const lr of m.lrs ?? [m.base.lr]) {
          const run = traceRunDir(dir, head, seed, m.lrs === undefined ? undefined : lr);
          if (existsSync(run)) rows.push(...runCsvRows(run, head, seed, lr));
        }
      }
      writeTraceCsv(join(out, "progress/trace.csv"), rows);
    ' "$DIST" "$OUT" "$OUT/grid-a" "$OUT/grid-b" "$OUT"/seeds/*
    $SEG compare "$OUT/progress" --select best-lr --format md
    ;;
  *) echo "unknown phase '$PHASE' (grid-a, grid-b, grid, seeds, compare, progress)" >&2; exit 2 ;;
esac
