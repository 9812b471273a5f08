#!/usr/bin/env bash
# The GPU measurements docs/REPRODUCTION.md and README.md still lack, as one prepared device run:
# training-step and inference benches on webgpu (ResNet-18 128 px, ResNet-101 513 px at the VOC
# batch, the Fashion v2 config, four Fashion processes at once), and the first iterations of the
# Fashion v2 softmax run (lr 0.05, seed 0) on webgpu, to compare loss by loss with the wasm run.
#   tools/gpu-check.sh prepare FASHION_DATA   # here: .device/ (Node, app, Vulkan loader, the data), under 64 MiB
#   bash .device/run.sh 'OUT=$OUT bash tools/gpu-check.sh run'   # there, with .device carried
# $OUT gets 5 files (the device tool returns 8 at most): log.txt, benches.jsonl, stderr.txt, trace.out, trace.jsonl.
# Env for a dry run on lavapipe (eval "$(bash scripts/lavapipe.sh)"): R101_SIZE, R18_SIZE, TRACE_S, STEPS, OUT.
set -u
case "${1:-}" in
  prepare)
    data=${2:?usage: tools/gpu-check.sh prepare FASHION_DATA (the data folder of tools/reproduce-fashion-v2.sh)}
    set -e
    bash ../shared/gpu/pack.sh
    # onnxruntime-node (an optional engine, ~290 MB unpacked) is not used on the GPU machine and
    # would push .device/ past what the device tool carries; Node is recompressed harder.
    xz -dc .device/app.tar.xz | tar --delete --wildcards 'node_modules/onnxruntime-node*' | xz -T2 -6 > .device/app.slim.tar.xz
    mv .device/app.slim.tar.xz .device/app.tar.xz
    xz -dc .device/node.xz | xz -T2 -9 > .device/node.slim.xz && mv .device/node.slim.xz .device/node.xz
    tar -C "$(dirname "$data")" -cf - "$(basename "$data")" | xz -T2 -6 > .device/fashion.tar.xz
    echo ".device/ is $(du -sm --apparent-size .device | cut -f1) MiB"
    exit 0 ;;
  run) ;;
  *) echo "usage: tools/gpu-check.sh prepare FASHION_DATA | run" >&2; exit 2 ;;
esac
OUT=${OUT:-/tmp/gpu-check}; mkdir -p "$OUT"
SEG="node dist/cli/main.js"
R101_SIZE=${R101_SIZE:-513}; R18_SIZE=${R18_SIZE:-128}; TRACE_S=${TRACE_S:-150}; STEPS=${STEPS:-10}
# Every step's timeout is cut to what is left of BUDGET_S (seconds from the start), so that the whole run ends
# inside the device tool's per-command limit and $OUT still comes back; steps with under 20 s left are skipped.
BUDGET_S=${BUDGET_S:-480}
left() { # wanted: prints min(wanted, budget left), or nothing when under 20 s are left
  local rest=$((BUDGET_S - SECONDS))
  if [ "$rest" -lt 20 ]; then return 1; fi
  echo $(($1 < rest ? $1 : rest))
}
json_or_null() { if [ -s "$1" ]; then cat "$1"; else echo null; fi; }
log() { echo "== $(date +%T) $*" | tee -a "$OUT/log.txt"; }
bench() { # name timeout args...
  local name=$1 t
  t=$(left "$2") || { log "$name: skipped (budget of ${BUDGET_S}s spent)"; return 0; }
  shift 2
  log "$name: $*"
  timeout "$t" $SEG bench "$@" --backend webgpu --json > /tmp/bench.json 2> /tmp/bench.err
  local rc=$?
  echo "{\"name\":\"$name\",\"rc\":$rc,\"result\":$(json_or_null /tmp/bench.json)}" >> "$OUT/benches.jsonl"
  echo "rc=$rc $(head -c 600 /tmp/bench.json)" | tee -a "$OUT/log.txt"
  { echo "== $name"; cat /tmp/bench.err; } >> "$OUT/stderr.txt"
}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 | tee -a "$OUT/log.txt"
echo "cores: $(nproc)" | tee -a "$OUT/log.txt"
bench r18-softmax 90 train --backbone resnet18 --size "$R18_SIZE" --batch 4 --steps "$STEPS" --head softmax
bench r18-egb 60 train --backbone resnet18 --size "$R18_SIZE" --batch 4 --steps "$STEPS" --head egb
bench r101-egb-b4 120 train --backbone resnet101 --size "$R101_SIZE" --batch 4 --steps 5 --head egb
bench r101-softmax-b8 120 train --backbone resnet101 --size "$R101_SIZE" --batch 8 --steps 5 --head softmax
bench fashion-softmax 60 train --backbone resnet18 --width 0.5 --size 96 --batch 8 --classes 11 --steps 20 --head softmax
bench fashion-egb 60 train --backbone resnet18 --width 0.5 --size 96 --batch 8 --classes 11 --steps 20 --head egb
bench r101-infer 90 infer --backbone resnet101 --size "$R101_SIZE" --batch 4 --steps 5
bench r18-infer 60 infer --backbone resnet18 --size "$R18_SIZE" --batch 4 --steps 10
if par=$(left 90); then
  log "4 Fashion benches at once (one process each)"
  for i in 1 2 3 4; do timeout "$par" $SEG bench train --backbone resnet18 --width 0.5 --size 96 --batch 8 --classes 11 --steps 30 \
    --head softmax --backend webgpu --json > "/tmp/parallel$i.json" 2>/dev/null & done; wait
  for i in 1 2 3 4; do echo "{\"name\":\"parallel$i\",\"result\":$(json_or_null "/tmp/parallel$i.json")}" >> "$OUT/benches.jsonl"
    head -c 300 "/tmp/parallel$i.json" | tee -a "$OUT/log.txt"; echo; done
fi
# Same data, flags and seed as the wasm run softmax-lr0.05-s0 of reproduction v2; SIGTERM saves it.
if TRACE_S=$(left "$TRACE_S"); then
  mkdir -p /tmp/gpu-check-data && tar -xJf .device/fashion.tar.xz -C /tmp/gpu-check-data
  log "fashion v2 trace on webgpu (stopped after ${TRACE_S}s)"
  timeout "$TRACE_S" $SEG trace --data "/tmp/gpu-check-data/$(ls /tmp/gpu-check-data | head -n 1)" --heads softmax --lrs 0.05 --seeds 0 \
    --backbone resnet18 --output-stride 16 --width 0.5 --crop 96 --batch 8 --iters 8000 --eval-every 250 --save-every 250 \
    --log-every 10 --momentum 0.9 --weight-decay 1e-4 --poly-power 0.9 --backend webgpu --out /tmp/gpu-check-trace > "$OUT/trace.out" 2>&1
  echo "trace rc=$?" | tee -a "$OUT/log.txt"; tail -c 1500 "$OUT/trace.out" | tr '\r' '\n' | tail -n 5 | tee -a "$OUT/log.txt"
  cp /tmp/gpu-check-trace/softmax-lr0.05-s0/trace.jsonl "$OUT/trace.jsonl" 2>/dev/null
else
  log "fashion v2 trace: skipped (budget of ${BUDGET_S}s spent)"
fi
log done
