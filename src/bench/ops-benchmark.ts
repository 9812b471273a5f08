/**
 * The ops benchmark: one representative ResNet 3x3 conv layer (batch 4, 64x64, 64->64),
 * forward, and forward + input and filter gradients, at dilation 1 and 2.
 */
import { tf } from '../backend/tf.js';
import { conv2d } from '../backend/conv2d.js';
import { round } from '../core/numbers.js';
import { activeAdapter } from '../backend/select-backend.js';

export interface ConvBenchCase {
  backend: string;
  /** The GPU adapter on webgpu, else null. */
  adapter: string | null;
  batch: number;
  size: number;
  channels: number;
  kernel: number;
  dilation: number;
  fwdMs: number;
  fwdBwdMs: number;
  fwdGflops: number;
  fwdBwdGflops: number;
}

export interface ConvBenchOptions {
  batch?: number;
  size?: number;
  channels?: number;
  dilations?: number[];
  /** Timed repetitions per case (median reported), after one warm-up. */
  repeats?: number;
}

async function timeMedian(repeats: number, run: () => tf.Tensor[]): Promise<number> {
  const warm = run();
  await Promise.all(warm.map((t) => t.data()));
  tf.dispose(warm);
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    const out = run();
    // Reading the results forces every pending kernel to finish.
    await Promise.all(out.map((t) => t.data()));
    times.push(performance.now() - start);
    tf.dispose(out);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] as number;
}

export async function benchmarkConvOps(options: ConvBenchOptions = {}): Promise<ConvBenchCase[]> {
  const batch = options.batch ?? 4;
  const size = options.size ?? 64;
  const channels = options.channels ?? 64;
  const repeats = options.repeats ?? 5;
  const kernel = 3;
  const results: ConvBenchCase[] = [];
  const x = tf.randomNormal([batch, size, size, channels], 0, 1, 'float32', 1) as tf.Tensor4D;
  const w = tf.randomNormal([kernel, kernel, channels, channels], 0, 0.05, 'float32', 2) as tf.Tensor4D;
  const r = tf.randomNormal([batch, size, size, channels], 0, 1, 'float32', 3);
  const flopsPerPass = 2 * batch * size * size * kernel * kernel * channels * channels;
  const grads = tf.grads((xi: tf.Tensor, wi: tf.Tensor) =>
    tf.sum(tf.mul(conv2d(xi as tf.Tensor4D, wi as tf.Tensor4D, { dilation: current }), r)),
  );
  let current = 1;
  for (const dilation of options.dilations ?? [1, 2]) {
    current = dilation;
    const fwdMs = await timeMedian(repeats, () => [conv2d(x, w, { dilation })]);
    const fwdBwdMs = await timeMedian(repeats, () => grads([x, w]));
    results.push({
      backend: tf.getBackend(),
      adapter: activeAdapter() ?? null,
      batch,
      size,
      channels,
      kernel,
      dilation,
      fwdMs: round(fwdMs, 2),
      fwdBwdMs: round(fwdBwdMs, 2),
      fwdGflops: round(flopsPerPass / fwdMs / 1e6, 2),
      fwdBwdGflops: round((3 * flopsPerPass) / fwdBwdMs / 1e6, 2),
    });
  }
  tf.dispose([x, w, r]);
  return results;
}
