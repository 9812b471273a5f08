#!/usr/bin/env bash
# The GPU measurements of issue 27 (captured training steps, onnxruntime's WebGPU provider), as one
# prepared device run:
# - eager against replayed (captured) training steps, in one process each: ResNet-18 OS16 128 px
#   batch 4, ResNet-101 OS16 513 px batch 4 and batch 8 (`seg bench train --compare-eager`);
# - a GPU time per kernel of one replayed ResNet-101 step, from timestamp queries (top 20 kernels
#   and the GPU-busy fraction: `--profile`);
# - tfjs-webgpu against onnxruntime-webgpu inference at 513 px (and ResNet-18 at 128 px);
# - with Fashion data prepared, the first minutes of the reproduction-v2 softmax run on webgpu.
#   tools/gpu-check.sh prepare [FASHION_DATA]   # here: .device/ (Node, app, Vulkan loader[, data]), under 64 MiB
#   bash .device/run.sh 'OUT=$OUT bash tools/gpu-check.sh run'   # there, with .device carried
# $OUT gets log.txt, benches.jsonl, stderr.txt (and trace.out, trace.jsonl with the data).
# A dry run on lavapipe here: eval "$(bash scripts/lavapipe.sh)"; WIDTH=0.125 R101=resnet18 R101_SIZE=33 R18_SIZE=32 STEPS=2 OUT=/tmp/g bash tools/gpu-check.sh run
set -u
case "${1:-}" in
  prepare)
    set -e
    bash tools/device/pack.sh
    if [ -n "${2:-}" ]; then tar -C "$(dirname "$2")" -cf - "$(basename "$2")" | xz -T2 -6 > .device/fashion.tar.xz; fi
    size=$(du -sm --apparent-size .device | cut -f1)
    echo ".device/ is ${size} MiB (the device tool carries 64 MiB with the whole working tree)"
    [ "$size" -lt 60 ] || echo "warning: too big to carry"
    exit 0 ;;
  run) ;;
  *) echo "usage: tools/gpu-check.sh prepare [FASHION_DATA] | run" >&2; exit 2 ;;
esac
OUT=${OUT:-/tmp/gpu-check}; mkdir -p "$OUT"
SEG="node dist/cli/main.js"
R101=${R101:-resnet101}; W=${WIDTH:-1}; R101_SIZE=${R101_SIZE:-513}; R18_SIZE=${R18_SIZE:-128}; TRACE_S=${TRACE_S:-90}; STEPS=${STEPS:-10}
# Every step's timeout is cut to what is left of BUDGET_S (seconds from the start), so that the whole run ends
# inside the device tool's per-command limit and $OUT still comes back; steps with under 20 s left are skipped.
BUDGET_S=${BUDGET_S:-540}
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
  timeout "$t" $SEG bench "$@" --width "$W" --backend webgpu --json > /tmp/bench.json 2> /tmp/bench.err
  local rc=$?
  echo "{\"name\":\"$name\",\"rc\":$rc,\"result\":$(json_or_null /tmp/bench.json)}" >> "$OUT/benches.jsonl"
  echo "rc=$rc $(head -c 900 /tmp/bench.json)" | tee -a "$OUT/log.txt"
  { echo "== $name"; cat /tmp/bench.err; } >> "$OUT/stderr.txt"
}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 | tee -a "$OUT/log.txt"
echo "cores: $(nproc); date: $(date -u +%F)" | tee -a "$OUT/log.txt"
# Training: eager, then captured, in the same process (--compare-eager); the ResNet-101 b4 one also profiles.
bench r18-train 90 train --backbone resnet18 --size "$R18_SIZE" --batch 4 --steps "$STEPS" --head softmax --compare-eager
bench r101-train-b4 150 train --backbone "$R101" --size "$R101_SIZE" --batch 4 --steps 5 --head egb --compare-eager --profile
bench r101-train-b8 150 train --backbone "$R101" --size "$R101_SIZE" --batch 8 --steps 5 --head softmax --compare-eager
# Inference: tfjs-webgpu, then onnxruntime's WebGPU provider.
bench r101-infer-tfjs 60 infer --backbone "$R101" --size "$R101_SIZE" --batch 4 --steps 5
bench r101-infer-ort 90 infer --backbone "$R101" --size "$R101_SIZE" --batch 4 --steps 5 --engine onnxruntime
bench r18-infer-tfjs 40 infer --backbone resnet18 --size "$R18_SIZE" --batch 4 --steps "$STEPS"
bench r18-infer-ort 60 infer --backbone resnet18 --size "$R18_SIZE" --batch 4 --steps "$STEPS" --engine onnxruntime
# Same data, flags and seed as the wasm run softmax-lr0.05-s0 of reproduction v2, now with captured steps.
if [ -f .device/fashion.tar.xz ] && TRACE_S=$(left "$TRACE_S"); then
  mkdir -p /tmp/gpu-check-data && tar -xJf .device/fashion.tar.xz -C /tmp/gpu-check-data
  log "fashion v2 trace on webgpu (stopped after ${TRACE_S}s)"
  timeout "$TRACE_S" $SEG trace --data "/tmp/gpu-check-data/$(ls /tmp/gpu-check-data | head -n 1)" --heads softmax --lrs 0.05 --seeds 0 \
    --backbone resnet18 --output-stride 16 --width 0.5 --crop 96 --batch 8 --iters 8000 --eval-every 250 --save-every 250 \
    --log-every 10 --momentum 0.9 --weight-decay 1e-4 --poly-power 0.9 --backend webgpu --out /tmp/gpu-check-trace > "$OUT/trace.out" 2>&1
  echo "trace rc=$?" | tee -a "$OUT/log.txt"; tail -c 1500 "$OUT/trace.out" | tr '\r' '\n' | tail -n 5 | tee -a "$OUT/log.txt"
  cp /tmp/gpu-check-trace/softmax-lr0.05-s0/trace.jsonl "$OUT/trace.jsonl" 2>/dev/null
else
  log "fashion v2 trace: skipped (no data prepared, or the budget of ${BUDGET_S}s spent)"
fi
log done
