/** `seg bench train|infer`: step time, images/s, effective GFLOP/s and peak RSS of a DeepLab model. */
import { type Command, Option } from 'commander';
import type { OutputStride } from '../backbones/backbone.js';
import { backboneNames, outputStrides } from '../backbones/registry.js';
import { decoderNames } from '../decoders/registry.js';
import { progressCallback } from '../core/progress.js';
import { benchmarkModel } from '../bench/model-benchmark.js';
import { benchmarkOnnxRuntimeInfer } from '../bench/onnx-benchmark.js';
import { SegError } from '../core/errors.js';
import { addBackendOption, parseFloatFlag, parseIntFlag, useBackend } from './options.js';
import { DEFAULT_TRAIN_CONFIG } from '../training/train-config.js';
import { resolveBackendChoice } from '../backend/select-backend.js';
import { useDawnNullBackend } from '../backend/webgpu.js';

interface BenchModelFlags {
  backbone: string;
  outputStride: string;
  decoder: string;
  width: number;
  size: number;
  batch: number;
  steps: number;
  classes: number;
  head: string;
  json?: boolean;
  backend?: string;
  engine: 'tfjs' | 'onnxruntime';
  threads?: number;
  capture: boolean;
  compareEager?: boolean;
  dawnNull?: boolean;
  profile?: boolean;
}

function register(bench: Command, mode: 'train' | 'infer'): void {
  const cmd = bench
    .command(mode)
    .description(
      mode === 'train'
        ? 'time training steps (forward, head, backward, SGD) on random data'
        : 'time inference forward passes on random data',
    )
    .addOption(
      new Option(
        '--backbone <name>',
        `backbone (a small default for quick timings; seg train and seg info default to ${DEFAULT_TRAIN_CONFIG.backbone})`,
      )
        .choices(backboneNames())
        .default('resnet18'),
    )
    .addOption(new Option('--output-stride <n>', 'output stride').choices(outputStrides().map(String)).default('16'))
    .addOption(new Option('--decoder <name>', 'decoder').choices(decoderNames()).default(DEFAULT_TRAIN_CONFIG.decoder))
    .option('--width <w>', 'channel width multiplier', parseFloatFlag('--width', 0.01, 4), 1)
    .option('--size <px>', 'square input side', parseIntFlag('--size', 8), 128)
    .option('--batch <n>', 'images per step', parseIntFlag('--batch', 1), 4)
    .option('--steps <n>', 'timed steps (after 2 warm-up steps; 3 for a captured step)', parseIntFlag('--steps', 1), 5)
    .option('--classes <k>', 'classes', parseIntFlag('--classes', 2, 255), 21)
    .option('--head <spec>', 'output head (train)', 'softmax')
    .option('--json', 'print one JSON object')
    .addOption(new Option('--engine <name>', 'inference engine (infer)').choices(['tfjs', 'onnxruntime']).default('tfjs'))
    .option('--threads <n>', 'onnxruntime intra-op threads (default: all cores)', parseIntFlag('--threads', 1))
    .option('--no-capture', 'train: run every step eagerly through tfjs (webgpu captures and replays them by default)')
    .option('--compare-eager', 'train on webgpu: also time the same steps eagerly, first, and report both host costs')
    .option('--profile', 'train on webgpu: GPU time per kernel of one replayed step, from timestamp queries (top 20, GPU-busy fraction)')
    .option('--dawn-null', "webgpu, benchmarks only: Dawn's null backend, which executes nothing (host cost alone; results are zeros)");
  addBackendOption(cmd).action(async (flags: BenchModelFlags) => {
    if (mode === 'train' && flags.engine === 'onnxruntime')
      throw new SegError('--engine onnxruntime: only inference runs on onnxruntime; use seg bench infer', '--engine');
    if (flags.dawnNull === true) {
      if (resolveBackendChoice(flags.backend) !== 'webgpu') throw new SegError('--dawn-null: needs --backend webgpu', '--dawn-null');
      useDawnNullBackend();
    }
    const selection = await useBackend(flags.backend, flags.json === true);
    const run =
      mode === 'infer' && flags.engine === 'onnxruntime'
        ? benchmarkOnnxRuntimeInfer
        : (o: Parameters<typeof benchmarkModel>[1]) => benchmarkModel(mode, o);
    const result = await run({
      model: {
        backbone: flags.backbone,
        outputStride: Number(flags.outputStride) as OutputStride,
        width: flags.width,
        numClasses: flags.classes,
        multiGrid: false,
        ...(flags.decoder !== DEFAULT_TRAIN_CONFIG.decoder ? { decoder: flags.decoder } : {}),
      },
      size: flags.size,
      batch: flags.batch,
      steps: flags.steps,
      head: flags.head,
      capture: flags.capture,
      compareEager: flags.compareEager === true,
      profile: flags.profile === true,
      onStep: flags.json === true ? undefined : progressCallback(`bench ${mode}`),
      ...(flags.threads !== undefined ? { threads: flags.threads } : {}),
      device: selection.name === 'webgpu' ? ('webgpu' as const) : ('cpu' as const),
    });
    if (flags.json === true) {
      process.stdout.write(`${JSON.stringify(result)}\n`);
    } else {
      process.stdout.write(
        `${result.engine === 'onnxruntime' ? `${result.backend} (${result.threads} threads)` : result.backend} ${mode} ${result.backbone} OS${result.outputStride} width ${result.width} ${result.size}x${result.size} batch ${result.batch}: ` +
          `${result.stepSeconds.toFixed(3)} s/step, ${result.imagesPerSecond} img/s, ${result.gflopsPerSecond} GFLOP/s, peak RSS ${result.peakRssMb} MB (after warm-up ${result.rssAfterWarmupMb}, end ${result.rssEndMb}), ` +
          `tensors ${result.tensorsBefore} -> ${result.tensorsAfter}${result.kernelsPerStep !== null ? `, ${result.kernelsPerStep} kernels/step` : ''}` +
          hostCostText(result) +
          '\n',
      );
    }
  });
}

function hostCostText(result: Awaited<ReturnType<typeof benchmarkModel>>): string {
  if (result.hostMsPerStep === undefined) return '';
  const how =
    result.captured === true
      ? 'captured (replayed)'
      : `eager${result.captureNote !== undefined ? ` (not captured: ${result.captureNote})` : ''}`;
  const eager =
    result.eager !== undefined
      ? `; eager: ${result.eager.stepSeconds.toFixed(3)} s/step, host ${result.eager.hostMsPerStep} ms/step (${result.hostCostRatio}x)`
      : '';
  const dawn = result.dawnBackend === 'null' ? "; on Dawn's null backend: nothing executed, step time is host time" : '';
  const profile =
    result.profile !== undefined
      ? `; GPU busy ${Math.round(result.profile.gpuBusy * 100)}% (${result.profile.kernelMs} of ${result.profile.stepMs} ms), top kernels: ` +
        result.profile.topKernels
          .slice(0, 5)
          .map((k) => `${k.kernel} ${k.ms} ms (${k.count}x)`)
          .join(', ')
      : '';
  return `, ${how}, host ${result.hostMsPerStep} ms/step${eager}${dawn}${profile}`;
}

export function registerBenchModel(bench: Command): void {
  register(bench, 'train');
  register(bench, 'infer');
}
