/**
 * Training and inference benchmarks on random data: step time, images/s, effective GFLOP/s
 * (FLOPs from the model spec: forward = 2 x conv MACs, a training step counted as 3 x
 * forward), peak RSS, the tensor count before and after (flat = no leak), and the kernels
 * one step runs (from tf.profile on one extra, untimed step: on a GPU each kernel costs a
 * dispatch, which dominates small models).
 *
 * Training on webgpu runs captured steps (training/step-runner.ts) unless `capture` is off,
 * and reports the host cost of issuing a step (the main thread's CPU time up to the submit):
 * with `compareEager`, the same steps run eagerly first, in the same process, for the ratio.
 */
import { tf } from '../backend/tf.js';
import { activeAdapter } from '../backend/select-backend.js';
import { createHead } from '../heads/head.js';
import { parseHeadSpec } from '../heads/head-spec.js';
import { Rng } from '../core/random.js';
import type { ModelConfig } from '../segmentation/deeplab-spec.js';
import { describeModel } from '../segmentation/describe-model.js';
import { createModel } from '../segmentation/model.js';
import { MomentumSgd } from '../training/sgd.js';
import { createStepRunner, type StepRunner } from '../training/step-runner.js';
import { recordGpuWork } from '../backend/step-recorder.js';
import { flushTfjs, webgpuInternals } from '../backend/webgpu-internals.js';
import { onDawnNullBackend } from '../backend/webgpu.js';
import { median, round } from '../core/numbers.js';
import { MAIN_THREAD_CPU_EXACT, mainThreadCpuMs } from './thread-cpu.js';

export interface ModelBenchOptions {
  model: ModelConfig;
  size: number;
  batch: number;
  /** Timed steps after `warmup` untimed ones. */
  steps: number;
  warmup?: number;
  head?: string;
  onStep?: (done: number, total: number) => void;
  /** Training on webgpu: capture and replay steps (default true). */
  capture?: boolean;
  /** Training on webgpu with capture: also time the same steps eagerly, first, for comparison. */
  compareEager?: boolean;
  /** Training on webgpu with capture: replay one more step with a GPU timestamp around every dispatch. */
  profile?: boolean;
}

/** GPU time per kernel of one replayed step (timestamp queries), and how busy the GPU was. */
export interface StepProfile {
  /** The 20 kernels with the most GPU time: name, dispatches, ms. */
  topKernels: Array<{ kernel: string; count: number; ms: number }>;
  /** GPU time of all dispatches of the step. */
  kernelMs: number;
  /** The median replayed step's wall time. */
  stepMs: number;
  /** kernelMs / stepMs. */
  gpuBusy: number;
}

/** How the timed training steps ran, and what issuing one cost the host. */
export interface HostCost {
  /** The timed steps were replays of a captured step. */
  captured: boolean;
  /** Median main-thread CPU time of issuing one step (inputs, kernels, submit), ms. */
  hostMsPerStep: number;
  /** Whether that is the main thread's own time (Linux) or the whole process's. */
  hostTime: 'main-thread' | 'process';
  /** Why the steps were not captured (capture on but the step ran eagerly). */
  captureNote?: string;
}

export interface ModelBenchResult {
  mode: 'train' | 'infer';
  /** Inference engine: seg's tfjs forward or onnxruntime (infer only). */
  engine?: 'tfjs' | 'onnxruntime';
  /** onnxruntime's intra-op threads. */
  threads?: number;
  backend: string;
  /** The GPU adapter on webgpu (e.g. "nvidia nvidia-h200"), else null. */
  adapter: string | null;
  backbone: string;
  outputStride: number;
  width: number;
  size: number;
  batch: number;
  steps: number;
  stepSeconds: number;
  imagesPerSecond: number;
  gflopsPerSecond: number;
  peakRssMb: number;
  /** RSS after the warm-up steps and at the end: equal up to noise when memory stays flat. */
  rssAfterWarmupMb: number;
  rssEndMb: number;
  tensorsBefore: number;
  tensorsAfter: number;
  /**
   * Computing kernels launched by one step (one image batch for infer): tf.profile's count
   * without Identity and Reshape (which share data on every backend) and gradient scopes.
   */
  kernelsPerStep: number | null;
  /** The most frequent kernels of that step, name -> count, most frequent first (null on onnxruntime). */
  topKernels: Record<string, number> | null;
  /** Training only: how the steps ran and their host cost. */
  captured?: boolean;
  hostMsPerStep?: number;
  hostTime?: HostCost['hostTime'];
  captureNote?: string;
  /** On Dawn's null backend (nothing executes; step times are host time alone). */
  dawnBackend?: 'null';
  /** With compareEager: the same steps run eagerly, and the host-cost ratio eager / captured. */
  eager?: { stepSeconds: number; hostMsPerStep: number; kernelsPerStep: number | null };
  hostCostRatio?: number;
  /** With profile: the GPU time per kernel of one replayed step. */
  profile?: StepProfile;
}

function randomBatch(n: number, size: number, classes: number, rng: Rng): { images: Float32Array; labels: Int32Array } {
  const images = new Float32Array(n * size * size * 3);
  for (let i = 0; i < images.length; i++) images[i] = rng.normal();
  const labels = new Int32Array(n * size * size);
  for (let i = 0; i < labels.length; i++) labels[i] = rng.next() < 0.05 ? 255 : rng.int(classes);
  return { images, labels };
}

interface TimedSteps {
  times: number[];
  host: number[];
  tensorsBefore: number;
  tensorsAfter: number;
  rssAfterWarmup: number;
  peakRss: number;
}

/** Warm-up then timed steps of `runStep`, which calls `issued` once its work is submitted. */
async function timeSteps(
  runStep: (issued: () => void) => Promise<void>,
  warmup: number,
  steps: number,
  onStep: ((done: number, total: number) => void) | undefined,
  offset = 0,
  total = warmup + steps,
): Promise<TimedSteps> {
  const out: TimedSteps = { times: [], host: [], tensorsBefore: 0, tensorsAfter: 0, rssAfterWarmup: 0, peakRss: process.memoryUsage().rss };
  for (let i = 0; i < warmup + steps; i++) {
    if (i === warmup) {
      out.tensorsBefore = tf.memory().numTensors;
      out.rssAfterWarmup = process.memoryUsage().rss;
    }
    const start = performance.now();
    const cpu = mainThreadCpuMs();
    let hostMs = Number.NaN;
    await runStep(() => {
      hostMs = mainThreadCpuMs() - cpu;
    });
    if (i >= warmup) {
      out.times.push((performance.now() - start) / 1000);
      out.host.push(hostMs);
    }
    out.peakRss = Math.max(out.peakRss, process.memoryUsage().rss);
    onStep?.(offset + i + 1, total);
  }
  out.tensorsAfter = tf.memory().numTensors;
  return out;
}

/**
 * Dispatches one eager step issues on webgpu, counted by recording it (tf.profile does not
 * see the in-place updates, which are no tfjs kernels). Its synchronous part is what issues.
 */
async function countDispatches(runStep: (issued: () => void) => Promise<void>): Promise<number | undefined> {
  const backend = webgpuInternals();
  if (backend === undefined) return undefined;
  flushTfjs(backend);
  const { result, recording } = recordGpuWork(
    backend.device,
    () => false,
    () => runStep(() => undefined),
  );
  await result;
  return recording.ops.filter((op) => op.kind === 'dispatch').length;
}

export async function benchmarkModel(mode: 'train' | 'infer', options: ModelBenchOptions): Promise<ModelBenchResult> {
  const { size, batch, steps } = options;
  const warmup = options.warmup ?? 2;
  const model = createModel(options.model, 0);
  const head = createHead(parseHeadSpec(options.head ?? 'softmax', options.model.numClasses), options.model.numClasses);
  const sgd = new MomentumSgd(model.params, { momentum: 0.9, weightDecay: 1e-4 });
  const rng = new Rng(0, 'bench');
  const data = randomBatch(batch, size, options.model.numClasses, rng);
  const flopsPerImage = describeModel(options.model, size).flops * (mode === 'train' ? 3 : 1);
  const onWebgpu = webgpuInternals() !== undefined;
  const capture = mode === 'train' && onWebgpu && options.capture !== false;
  const runners: StepRunner[] = [];
  const trainWith =
    (runner: StepRunner) =>
    async (issued: () => void): Promise<void> => {
      await runner.run(
        { images: data.images, labels: data.labels, shape: [batch, size, size], ids: [], epoch: 0 },
        { lr: 1e-4, freezeBn: false },
        issued,
      );
    };
  const infer = async (issued: () => void): Promise<void> => {
    const out = tf.tidy(() => head.predict(model.forward(tf.tensor4d(data.images, [batch, size, size, 3]), { training: false })));
    issued();
    await out.data();
    out.dispose();
  };
  try {
    let eager: ModelBenchResult['eager'];
    const compare = capture && options.compareEager === true;
    // A captured step records two steps after one warm-up step before it replays.
    const captureWarmup = capture ? Math.max(warmup, 3) : warmup;
    const total = captureWarmup + steps + (compare ? warmup + steps : 0);
    if (compare) {
      const eagerRunner = createStepRunner(model, head, sgd, { capture: false });
      runners.push(eagerRunner);
      const timed = await timeSteps(trainWith(eagerRunner), warmup, steps, options.onStep, 0, total);
      eager = {
        stepSeconds: round(median(timed.times), 4),
        hostMsPerStep: round(median(timed.host), 2),
        kernelsPerStep: (await countDispatches(trainWith(eagerRunner))) ?? null,
      };
    }
    let captureNote: string | undefined;
    const runner =
      mode === 'train'
        ? createStepRunner(model, head, sgd, { capture, onNote: (note) => (captureNote = note.reason ?? captureNote) })
        : undefined;
    if (runner !== undefined) runners.push(runner);
    const runStep = runner !== undefined ? trainWith(runner) : infer;
    const timed = await timeSteps(runStep, captureWarmup, steps, options.onStep, compare ? warmup + steps : 0, total);
    const step = median(timed.times);
    const captured = runner?.lastStep === 'replayed';
    // tf.profile counts tfjs kernels, which a replayed step does not run: count an eager step.
    const eagerStep = mode === 'train' ? trainWith(createStepRunner(model, head, sgd, { capture: false })) : infer;
    const kernels = await countKernels(async () => eagerStep(() => undefined));
    const dispatches = runner?.dispatchesPerStep ?? (onWebgpu ? await countDispatches(runStep) : undefined);
    const hostMs = round(median(timed.host), 2);
    let profile: StepProfile | undefined;
    if (options.profile === true && runner?.replay !== undefined && captured) {
      const p = await runner.replay.profile();
      profile = {
        topKernels: p.kernels.slice(0, 20).map((k) => ({ kernel: k.kernel, count: k.count, ms: round(k.ms, 3) })),
        kernelMs: round(p.kernelMs, 2),
        stepMs: round(step * 1000, 2),
        gpuBusy: round(p.kernelMs / (step * 1000), 3),
      };
    }
    return {
      mode,
      ...(mode === 'infer' ? { engine: 'tfjs' as const } : {}),
      backend: tf.getBackend(),
      adapter: activeAdapter() ?? null,
      backbone: options.model.backbone,
      outputStride: options.model.outputStride,
      width: options.model.width,
      size,
      batch,
      steps,
      stepSeconds: round(step, 4),
      imagesPerSecond: round(batch / step, 2),
      gflopsPerSecond: round((flopsPerImage * batch) / step / 1e9, 2),
      peakRssMb: Math.round(timed.peakRss / 2 ** 20),
      rssAfterWarmupMb: Math.round(timed.rssAfterWarmup / 2 ** 20),
      rssEndMb: Math.round(process.memoryUsage().rss / 2 ** 20),
      tensorsBefore: timed.tensorsBefore,
      tensorsAfter: timed.tensorsAfter,
      kernelsPerStep: dispatches ?? kernels.total,
      topKernels: kernels.top,
      ...(mode === 'train'
        ? {
            captured,
            hostMsPerStep: hostMs,
            hostTime: MAIN_THREAD_CPU_EXACT ? ('main-thread' as const) : ('process' as const),
            ...(capture && !captured && captureNote !== undefined ? { captureNote } : {}),
          }
        : {}),
      ...(onDawnNullBackend() ? { dawnBackend: 'null' as const } : {}),
      ...(eager !== undefined ? { eager, hostCostRatio: round(eager.hostMsPerStep / hostMs, 1) } : {}),
      ...(profile !== undefined ? { profile } : {}),
    };
  } finally {
    for (const r of runners) r.dispose();
    sgd.dispose();
    model.dispose();
  }
}

const NOT_COMPUTING = new Set(['Identity', 'Reshape', 'unnamed scope']);

/** Computing kernels run by `step` (see kernelsPerStep), counted with tf.profile, and the most frequent. */
export async function countKernels(step: () => Promise<void>, top = 10): Promise<{ total: number; top: Record<string, number> }> {
  const profile = await tf.profile(async () => {
    await step();
    return [];
  });
  const byName = new Map<string, number>();
  for (const k of profile.kernels) if (!NOT_COMPUTING.has(k.name)) byName.set(k.name, (byName.get(k.name) ?? 0) + 1);
  const sorted = [...byName].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return { total: sorted.reduce((sum, [, n]) => sum + n, 0), top: Object.fromEntries(sorted.slice(0, top)) };
}
