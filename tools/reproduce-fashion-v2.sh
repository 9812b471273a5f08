#!/usr/bin/env bash
# Reproduction v2 of docs/REPRODUCTION.md: Fashion-MNIST scenes, ResNet-18 width 0.5, 8000 iterations,
# a per-head learning-rate grid on seed 0, then seeds 1 and 2 at each head's selected lr.
#   tools/reproduce-fashion-v2.sh OUT worker    # start one per core: together they train every run
#   tools/reproduce-fashion-v2.sh OUT grid      # the seed-0 grid so far, compared with --select best-lr
#   tools/reproduce-fashion-v2.sh OUT compare   # every run in OUT/all; the comparison at 95% and 90%, charts
#   tools/reproduce-fashion-v2.sh OUT progress  # any time: every run as it stands (unfinished ones too), compared
# Every run is a one-run trace in OUT/runs/<head>-lr<lr>-s<seed>/. A worker trains the first run of this
# list that is neither finished nor held by another worker (flock on OUT/runs/<run>.claim), then looks again:
#   softmax and egb: their lr grids on seed 0, then seeds 1 and 2 at each one's selected lr;
#   then the same for egb:exp:alpha=0.3, egb:pow3 and linear.
# A head's seed runs wait until its whole grid has finished (the lr is selected from it), so no core idles
# while another core still has work that could run. Workers resume runs from their last checkpoint.
# OUT/runs/wall.tsv gets a line per stretch a worker trained a run: name, start, end (UTC), exit status
# ('interrupted' when the worker was stopped).
# FINISHED_CSV=<trace.csv> (e.g. docs/reproduction/v2/trace.csv): runs that finished on an earlier machine, whose
# OUT is gone. A run whose rows there reach ITERS (or diverged) counts as finished and is not trained again; its rows
# join every phase's trace.csv (a run in OUT/runs wins over its rows there).
# SEG overrides the command (default: npx seg), e.g. SEG="node /path/to/dist/cli/main.js". WAIT: seconds a worker
# with nothing free sleeps before it looks again (default 300; smoke tests use 1).
# Needs Debian's dataset-fashion-mnist, or FASHION_SOURCE=<folder with the four IDX .gz files>.
set -euo pipefail
usage='usage: tools/reproduce-fashion-v2.sh OUT worker|grid|compare|progress'
OUT=${1:?$usage}
PHASE=${2:?$usage}
SEG=${SEG:-npx seg}
SOURCE=${FASHION_SOURCE:-/usr/share/datasets/fashion-mnist}
FINISHED_CSV=${FINISHED_CSV:-}
if [ -n "$FINISHED_CSV" ]; then
  [ -f "$FINISHED_CSV" ] || { echo "FINISHED_CSV=$FINISHED_CSV: no such file (a trace.csv of runs finished earlier)" >&2; exit 2; }
  FINISHED_CSV=$(cd "$(dirname "$FINISHED_CSV")" && pwd)/$(basename "$FINISHED_CSV")
fi
DIST=$(cd "$(dirname "$0")/.." && pwd)/dist
# The settings of docs/REPRODUCTION.md; WIDTH, ITERS, EVAL_EVERY, CROP, BATCH, LRS, SEEDS, TRAIN, VAL and
# HEADS (groups of heads split by '|') only for smoke tests.
LRS=${LRS:-0.05,0.02,0.1}
SEEDS=${SEEDS:-1,2}
IFS='|' read -r -a HEAD_GROUPS <<< "${HEADS:-softmax egb|egb:exp:alpha=0.3 egb:pow3 linear}"
ITERS=${ITERS:-8000}
EVAL_EVERY=${EVAL_EVERY:-250}
MODEL=(--backbone resnet18 --output-stride 16 --width "${WIDTH:-0.5}" --crop "${CROP:-96}" --batch "${BATCH:-8}" --iters "$ITERS"
  --eval-every "$EVAL_EVERY" --save-every "$EVAL_EVERY" --log-every "${LOG_EVERY:-10}" --momentum 0.9 --weight-decay 1e-4 --poly-power 0.9)

command -v flock > /dev/null || { echo "tools/reproduce-fashion-v2.sh needs flock (Debian: util-linux)" >&2; exit 2; }
mkdir -p "$OUT/runs"
# Two workers starting together make the data once.
(
  flock 9
  [ -f "$OUT/data/classes.txt" ] || $SEG data fashion --out "$OUT/data" --source "$SOURCE" --train "${TRAIN:-2000}" \
    --val "${VAL:-200}" --size 96 --seed 0
) 9> "$OUT/.data.lock"

# The folder name seg gives a run (headSlug in src/heads/head-spec.ts).
run_name() { printf '%s-lr%s-s%s' "$(printf '%s' "$1" | sed 's/:/-/g; s/[^a-zA-Z0-9.=-]\{1,\}/_/g')" "$2" "$3"; }

# The runs of the list that trained all their iterations or diverged (here, or in FINISHED_CSV), one name a
# line: every run looked at in one node process (loading seg costs about a second), once per look at the list.
finished_runs() {
  local group head lr seed
  for group in "${HEAD_GROUPS[@]}"; do
    for head in $group; do
      for lr in ${LRS//,/ }; do
        for seed in 0 ${SEEDS//,/ }; do printf '%s\t%s\t%s\t%s\n' "$head" "$lr" "$seed" "$(run_name "$head" "$lr" "$seed")"; done
      done
    done
  done | node --input-type=module -e '
    import { readFileSync } from "node:fs";
    import { join } from "node:path";
    const [dist, runs, iters, csv] = process.argv.slice(1);
    const { runFinished } = await import(join(dist, "experiments/convergence-trace.js"));
    const { readTraceCsv, divergedAt } = await import(join(dist, "experiments/trace-csv.js"));
    const earlier = csv === "" ? [] : readTraceCsv(csv);
    for (const line of readFileSync(0, "utf8").split("\n").filter((l) => l !== "")) {
      const [head, lr, seed, name] = line.split("\t");
      let done = runFinished(join(runs, name, name), Number(iters));
      if (!done) {
        const rows = earlier.filter((r) => r.head === head && r.lr === Number(lr) && r.seed === Number(seed));
        done = rows.length > 0 && (divergedAt(rows) !== null || Math.max(...rows.map((r) => r.iter)) >= Number(iters));
      }
      if (done) console.log(name);
    }
  ' "$DIST" "$OUT/runs" "$ITERS" "$FINISHED_CSV"
}

FINISHED_NOW=''
look_again() { FINISHED_NOW=$(finished_runs); }
finished() { # head lr seed: the run was finished when the list was last looked at (look_again)
  grep -qxF "$(run_name "$1" "$2" "$3")" <<< "$FINISHED_NOW"
}

# trace.csv in $1 with the rows of every one-run trace in OUT/runs (seed 0 only with "grid"), built from
# each run's trace.jsonl: unfinished runs count as far as they went. FINISHED_CSV's rows of runs not in OUT/runs join.
gather() {
  mkdir -p "$1"
  node --input-type=module -e '
    import { existsSync, readFileSync, readdirSync } from "node:fs";
    import { join } from "node:path";
    const [dist, dest, runs, which, finishedCsv] = process.argv.slice(1);
    const { runCsvRows, traceRunDir } = await import(join(dist, "experiments/convergence-trace.js"));
    const { readTraceCsv, writeTraceCsv } = await import(join(dist, "experiments/trace-csv.js"));
    const rows = [];
    for (const name of readdirSync(runs).sort()) {
      const dir = join(runs, name);
      if (!existsSync(join(dir, "trace.json"))) continue;
      const m = JSON.parse(readFileSync(join(dir, "trace.json"), "utf8"));
      for (const seed of m.seeds) for (const head of m.heads) for (const lr of m.lrs ?? [m.base.lr]) {
        const run = traceRunDir(dir, head, seed, m.lrs === undefined ? undefined : lr);
        if (existsSync(run) && (which !== "grid" || seed === 0)) rows.push(...runCsvRows(run, head, seed, lr));
      }
    }
    if (finishedCsv !== "") {
      const key = (r) => JSON.stringify([r.head, r.lr, r.seed]);
      const here = new Set(rows.map(key));
      rows.push(...readTraceCsv(finishedCsv).filter((r) => !here.has(key(r)) && (which !== "grid" || r.seed === 0)));
    }
    writeTraceCsv(join(dest, "trace.csv"), rows);
  ' "$DIST" "$1" "$OUT/runs" "${2:-all}" "$FINISHED_CSV"
}

selected_lr() { # head: its lr from the seed-0 grid, or nothing while the grid is unfinished
  local lr dir json
  for lr in ${LRS//,/ }; do finished "$1" "$lr" 0 || return 0; done
  dir=$(mktemp -d)
  gather "$dir" grid && json=$($SEG compare "$dir" --select best-lr --json --no-charts) || { rm -rf "$dir"; return 1; }
  rm -rf "$dir"
  printf '%s' "$json" | node -e '
    const c = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const h = c.heads.find((h) => h.head === process.argv[1]);
    if (h === undefined) { console.error(`no selected lr for ${process.argv[1]}`); process.exit(1); }
    console.log(h.lr);
  ' "$1"
}

utc_now() { date -u +%Y-%m-%dT%H:%M:%SZ; }

# Wall clock of every stretch a run trained (runs resume across sessions): training plus evaluations.
RUN=''
RUN_STARTED=''
log_wall() { printf '%s\t%s\t%s\t%s\n' "$RUN" "$RUN_STARTED" "$(utc_now)" "$1" >> "$OUT/runs/wall.tsv"; }
# Stopped (Ctrl-C, a session's end): the run saves its checkpoint itself; log its stretch, then stop.
trap 'if [ -n "$RUN" ]; then log_wall interrupted; fi; exit 143' TERM INT HUP

claim_and_train() { # head lr seed: 0 when trained to its end, 1 when another worker holds it or has just finished it
  local rc=0 fd
  RUN=$(run_name "$1" "$2" "$3")
  exec {fd}> "$OUT/runs/$RUN.claim"
  if ! flock -n "$fd"; then
    exec {fd}>&-
    echo "worker $$: $RUN is held by another worker" >&2; RUN=''; return 1
  fi
  # The list was looked at before the claim: the other worker may have finished this run since.
  look_again
  if finished "$1" "$2" "$3"; then
    exec {fd}>&-
    echo "worker $$: $RUN was finished by another worker" >&2; RUN=''; return 1
  fi
  RUN_STARTED=$(utc_now)
  echo "worker $$: $RUN ($RUN_STARTED)" >&2
  $SEG trace --data "$OUT/data" --heads "$1" --lrs "$2" --seeds "$3" "${MODEL[@]}" --out "$OUT/runs/$RUN" || rc=$?
  exec {fd}>&-
  local name=$RUN
  log_wall "$rc"
  RUN=''
  if [ "$rc" != 0 ]; then echo "worker $$: $name failed (exit $rc); stopping" >&2; exit "$rc"; fi
  look_again
  finished "$1" "$2" "$3" || { echo "worker $$: $name stopped before its end; stopping" >&2; exit 1; }
}

next_run() { # trains the first free run: 0 after one, 1 when all left are held or wait for a grid, 2 when all are done
  local group head lr seed waiting=0
  look_again
  for group in "${HEAD_GROUPS[@]}"; do
    for head in $group; do
      for lr in ${LRS//,/ }; do
        finished "$head" "$lr" 0 && continue
        claim_and_train "$head" "$lr" 0 && return 0
        waiting=1
      done
    done
    for head in $group; do
      lr=$(selected_lr "$head") || { echo "worker $$: could not select the lr of $head; stopping" >&2; exit 1; }
      if [ -z "$lr" ]; then waiting=1; continue; fi
      for seed in ${SEEDS//,/ }; do
        finished "$head" "$lr" "$seed" && continue
        claim_and_train "$head" "$lr" "$seed" && return 0
        waiting=1
      done
    done
  done
  return $((waiting == 1 ? 1 : 2))
}

case "$PHASE" in
  worker)
    while :; do
      rc=0
      next_run || rc=$?
      if [ "$rc" = 2 ]; then echo "worker $$: every run has finished; next: tools/reproduce-fashion-v2.sh $OUT compare"; break; fi
      # Nothing free: the other worker holds the rest, or a grid this worker's next runs need.
      if [ "$rc" = 1 ]; then sleep "${WAIT:-300}"; fi
    done
    ;;
  grid)
    gather "$OUT/grid" grid
    $SEG compare "$OUT/grid" --select best-lr --format md
    ;;
  compare)
    gather "$OUT/all" all
    $SEG compare "$OUT/all" --select best-lr --format md
    $SEG compare "$OUT/all" --select best-lr --target 0.9 --format md --no-charts
    ;;
  progress)
    gather "$OUT/progress" all
    $SEG compare "$OUT/progress" --select best-lr --format md
    ;;
  *) echo "unknown phase '$PHASE' ($usage)" >&2; exit 2 ;;
esac
