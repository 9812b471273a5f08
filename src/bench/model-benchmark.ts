/**
 * Training and inference benchmarks on random data: step time, images/s, effective GFLOP/s
 * (FLOPs from the model spec: forward = 2 x conv MACs, a training step counted as 3 x
 * forward), peak RSS, the tensor count before and after (flat = no leak), and the kernels
 * one step runs (from tf.profile on one extra, untimed step: on a GPU each kernel costs a
 * dispatch, which dominates small models).
 */
import { tf } from '../engine/tf.js';
import { activeAdapter } from '../engine/backend.js';
import { createHead } from '../heads/head.js';
import { parseHeadSpec } from '../heads/head-spec.js';
import { Rng } from '../core/random.js';
import type { ModelConfig } from '../segmentation/deeplab-spec.js';
import { describeModel } from '../segmentation/describe-model.js';
import { createModel } from '../segmentation/model.js';
import { MomentumSgd } from '../training/sgd.js';
import { trainStep } from '../training/train-step.js';
import { median, round } from '../core/numbers.js';

export interface ModelBenchOptions {
  model: ModelConfig;
  size: number;
  batch: number;
  /** Timed steps after `warmup` untimed ones. */
  steps: number;
  warmup?: number;
  head?: string;
  onStep?: (done: number, total: number) => void;
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
}

function randomBatch(n: number, size: number, classes: number, rng: Rng): { images: Float32Array; labels: Int32Array } {
  const images = new Float32Array(n * size * size * 3);
  for (let i = 0; i < images.length; i++) images[i] = rng.normal();
  const labels = new Int32Array(n * size * size);
  for (let i = 0; i < labels.length; i++) labels[i] = rng.next() < 0.05 ? 255 : rng.int(classes);
  return { images, labels };
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
  const runStep = async (): Promise<void> => {
    if (mode === 'train') {
      await trainStep(
        model,
        head,
        sgd,
        { images: data.images, labels: data.labels, shape: [batch, size, size], ids: [], epoch: 0 },
        { lr: 1e-4, freezeBn: false },
      );
    } else {
      const out = tf.tidy(() => head.predict(model.forward(tf.tensor4d(data.images, [batch, size, size, 3]), { training: false })));
      await out.data();
      out.dispose();
    }
  };
  const times: number[] = [];
  let peakRss = process.memoryUsage().rss;
  let tensorsBefore = 0;
  let rssAfterWarmup = 0;
  try {
    for (let i = 0; i < warmup + steps; i++) {
      if (i === warmup) {
        tensorsBefore = tf.memory().numTensors;
        rssAfterWarmup = process.memoryUsage().rss;
      }
      const start = performance.now();
      await runStep();
      if (i >= warmup) times.push((performance.now() - start) / 1000);
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
      options.onStep?.(i + 1, warmup + steps);
    }
    const step = median(times);
    const tensorsAfter = tf.memory().numTensors;
    const kernels = await countKernels(runStep);
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
      peakRssMb: Math.round(peakRss / 2 ** 20),
      rssAfterWarmupMb: Math.round(rssAfterWarmup / 2 ** 20),
      rssEndMb: Math.round(process.memoryUsage().rss / 2 ** 20),
      tensorsBefore: tensorsBefore,
      tensorsAfter: tensorsAfter,
      kernelsPerStep: kernels.total,
      topKernels: kernels.top,
    };
  } finally {
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
