/**
 * Inference benchmark on onnxruntime: the model (random weights, as the tfjs benchmark)
 * exported in memory with a `mask` output, run on random NCHW batches with every core.
 * Same figures as benchmarkModel's infer mode, so the two engines compare directly. With
 * `device: 'webgpu'` the graph runs on onnxruntime's WebGPU provider.
 */
import { availableParallelism } from 'node:os';
import { tf } from '../engine/tf.js';
import { Rng } from '../core/random.js';
import { exportOnnx, ONNX_INPUT_NAME } from '../export/onnx-export.js';
import { createOrtSession, defaultSessionOptions, type OrtDevice } from '../inference/engines/onnxruntime-loader.js';
import { activeAdapter } from '../engine/backend.js';
import { describeModel } from '../segmentation/describe-model.js';
import { createModel } from '../segmentation/model.js';
import { IMAGENET_NORMALIZATION } from '../data-loading/normalize.js';
import type { ModelBenchOptions, ModelBenchResult } from './model-benchmark.js';
import { median, round } from '../core/numbers.js';

export async function benchmarkOnnxRuntimeInfer(
  options: ModelBenchOptions & { threads?: number; device?: OrtDevice },
): Promise<ModelBenchResult> {
  const device = options.device ?? 'cpu';
  const { size, batch, steps } = options;
  const warmup = options.warmup ?? 2;
  const threads = options.threads ?? availableParallelism();
  const model = createModel(options.model, 0);
  let bytes: Uint8Array;
  try {
    const classNames = Array.from({ length: options.model.numClasses }, (_, i) => `class${i}`);
    bytes = await exportOnnx(model, {
      headSpec: { kind: 'softmax' },
      classNames,
      normalization: IMAGENET_NORMALIZATION,
      headOutput: 'mask',
    });
  } finally {
    model.dispose();
  }
  const { ort, session } = await createOrtSession(bytes, defaultSessionOptions(threads, device));
  const rng = new Rng(0, 'bench');
  const images = Float32Array.from({ length: batch * 3 * size * size }, () => rng.normal());
  const flopsPerImage = describeModel(options.model, size).flops;
  const times: number[] = [];
  let peakRss = process.memoryUsage().rss;
  let rssAfterWarmup = 0;
  const tensorsBefore = tf.memory().numTensors;
  try {
    for (let i = 0; i < warmup + steps; i++) {
      if (i === warmup) rssAfterWarmup = process.memoryUsage().rss;
      const start = performance.now();
      const out = await session.run({ [ONNX_INPUT_NAME]: new ort.Tensor('float32', images, [batch, 3, size, size]) });
      if (out['mask'] === undefined) throw new Error('onnxruntime bench: no mask output');
      if (i >= warmup) times.push((performance.now() - start) / 1000);
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
      options.onStep?.(i + 1, warmup + steps);
    }
  } finally {
    await session.release();
  }
  const step = median(times);
  return {
    mode: 'infer',
    engine: 'onnxruntime',
    threads,
    backend: `onnxruntime-${device}`,
    adapter: device === 'webgpu' ? (activeAdapter() ?? null) : null,
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
    tensorsAfter: tf.memory().numTensors,
    // onnxruntime runs its graph outside tfjs: no tfjs kernels to count.
    kernelsPerStep: null,
    topKernels: null,
  };
}
