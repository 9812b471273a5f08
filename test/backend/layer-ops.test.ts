/** The other ops a DeepLab ResNet trains through: values and gradients on cpu and wasm. */
import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { batchNormInfer, batchNormTrain } from '../../src/backend/batch-norm.js';
import { globalAvgPool, maxPool3x3s2 } from '../../src/backend/pool.js';
import { interpolationMatrix, resizeBilinear } from '../../src/backend/resize.js';
import { Rng } from '../../src/core/random.js';
import { finiteDifferences, relativeError } from './reference-conv.js';

function randomArray(seed: number, length: number): Float64Array {
  const rng = new Rng(seed, 'ops');
  const a = new Float64Array(length);
  for (let i = 0; i < length; i++) a[i] = rng.uniform(-2, 2);
  return a;
}

/** Gradient of sum(f(x) * r) w.r.t. x through tfjs, and the same by float64-evaluated finite differences. */
function checkGradient(
  shape: [number, number, number, number],
  outLength: number,
  f: (x: tf.Tensor4D) => tf.Tensor,
  seed: number,
  eps = 1e-2,
  distinct = false,
): { analytic: Float32Array; numeric: Float64Array } {
  const size = shape.reduce((a, b) => a * b, 1);
  // Distinct, well-separated values keep max-like ops on one linear piece under the step.
  const x = distinct
    ? Float64Array.from(new Rng(seed, 'perm').shuffle(Array.from({ length: size }, (_, i) => -2 + (4 * i) / size)))
    : randomArray(seed, size);
  const r = randomArray(seed + 1, outLength);
  const loss = (v: Float64Array): number =>
    tf.tidy(() => {
      // Evaluate in float32 but difference with a step large enough for float32 noise.
      const out = f(tf.tensor4d(Float32Array.from(v), shape)).dataSync();
      let s = 0;
      for (let i = 0; i < out.length; i++) s += (out[i] as number) * (r[i] as number);
      return s;
    });
  const numeric = finiteDifferences(x, loss, eps);
  const analytic = tf.tidy(() => {
    const rt = tf.tensor(Float32Array.from(r));
    const g = tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(f(xi as tf.Tensor4D).reshape([-1]), rt)))(tf.tensor4d(Float32Array.from(x), shape));
    return g.dataSync() as Float32Array;
  });
  return { analytic, numeric };
}

describe.each(['cpu', 'wasm'])('layer ops on %s', (backend) => {
  beforeAll(async () => {
    await tf.setBackend(backend);
    await tf.ready();
  });

  it('batchNormTrain normalises with batch statistics and its closed-form gradient matches autodiff', () => {
    const shape: [number, number, number, number] = [2, 3, 4, 5];
    const x = tf.tensor4d(Float32Array.from(randomArray(1, 120)), shape);
    const gamma = tf.tensor1d([0.5, 1, 1.5, 2, -1]);
    const beta = tf.tensor1d([0, 0.1, -0.2, 0.3, 1]);
    const r = tf.tensor4d(Float32Array.from(randomArray(2, 120)), shape);
    const { y, mean, variance } = batchNormTrain(x, gamma, beta);
    const mData = tf.mean(x, [0, 1, 2]);
    expect(relativeError(mean.dataSync(), mData.dataSync())).toBeLessThan(1e-6);
    const plain = (xi: tf.Tensor, g: tf.Tensor, b: tf.Tensor): tf.Tensor => {
      const m = tf.mean(xi, [0, 1, 2]);
      const v = tf.mean(tf.square(tf.sub(xi, m)), [0, 1, 2]);
      return tf.add(tf.mul(tf.div(tf.sub(xi, m), tf.sqrt(tf.add(v, 1e-5))), g), b);
    };
    expect(relativeError(y.dataSync(), plain(x, gamma, beta).dataSync())).toBeLessThan(1e-5);
    expect(relativeError(variance.dataSync(), tf.moments(x, [0, 1, 2]).variance.dataSync())).toBeLessThan(1e-5);
    const ours = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(batchNormTrain(a as tf.Tensor4D, g as tf.Tensor1D, b as tf.Tensor1D).y, r)),
    )([x, gamma, beta]);
    const reference = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(plain(a, g, b), r)))([x, gamma, beta]);
    for (let i = 0; i < 3; i++) {
      expect(relativeError((ours[i] as tf.Tensor).dataSync(), (reference[i] as tf.Tensor).dataSync())).toBeLessThan(1e-4);
    }
  });

  it('batchNormInfer uses the running statistics', () => {
    const x = tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]);
    const y = batchNormInfer(x, tf.tensor1d([2]), tf.tensor1d([1]), tf.tensor1d([2]), tf.tensor1d([4 - 1e-5]));
    // (x - 2) / 2 * 2 + 1
    expect(Array.from(y.dataSync())).toEqual([0, 1, 2, 3].map((v) => expect.closeTo(v, 5)));
  });

  it('maxPool3x3s2 has PyTorch padding semantics and a correct gradient', () => {
    const x = tf.tensor4d([-1, -2, -3, -4, -5, -6, -7, -8, -9, -10, -11, -12, -13, -14, -15, -16], [1, 4, 4, 1]);
    // Windows over rows/cols {-1..1} and {1..3}: padding never wins, even against negatives (zero padding would give 0).
    expect(Array.from(maxPool3x3s2(x).dataSync())).toEqual([-1, -2, -5, -6]);
    expect(maxPool3x3s2(tf.zeros([1, 7, 9, 2]) as tf.Tensor4D).shape).toEqual([1, 4, 5, 2]);
    for (const [shape, seed] of [
      [[1, 5, 6, 2], 11],
      [[2, 6, 7, 3], 12],
      [[1, 8, 8, 1], 13],
    ] as const) {
      const out = shape[0] * Math.floor((shape[1] + 1) / 2) * Math.floor((shape[2] + 1) / 2) * shape[3];
      // Piecewise linear: a small step stays on one piece (no window changes its max).
      const { analytic, numeric } = checkGradient([...shape], out, maxPool3x3s2, seed, 1e-3, true);
      expect(relativeError(analytic, numeric), `shape ${shape.join('x')}`).toBeLessThan(1e-3);
    }
  });

  it('maxPool3x3s2 routes a tied maximum to the first cell only, as PyTorch', () => {
    const x = tf.ones([1, 2, 2, 1]) as tf.Tensor4D;
    const g = tf.grad((xi: tf.Tensor) => tf.sum(maxPool3x3s2(xi as tf.Tensor4D)))(x);
    expect(Array.from(g.dataSync())).toEqual([1, 0, 0, 0]);
  });

  it('globalAvgPool averages over H and W', () => {
    const x = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 2, 2]);
    const y = globalAvgPool(x);
    expect(y.shape).toEqual([1, 1, 1, 2]);
    expect(Array.from(y.dataSync())).toEqual([4, 5]);
  });

  it('resizeBilinear matches align_corners=False bilinear and has a correct gradient', () => {
    const x = tf.tensor4d(Float32Array.from(randomArray(5, 2 * 3 * 4 * 3)), [2, 3, 4, 3]);
    const ours = resizeBilinear(x, [12, 7]);
    const tfjs = tf.image.resizeBilinear(x, [12, 7], false, true);
    expect(relativeError(ours.dataSync(), tfjs.dataSync())).toBeLessThan(1e-5);
    const down = resizeBilinear(tf.tensor4d(Float32Array.from(randomArray(6, 8 * 8)), [1, 8, 8, 1]), [4, 4]);
    expect(down.shape).toEqual([1, 4, 4, 1]);
    const { analytic, numeric } = checkGradient([1, 3, 4, 2], 1 * 9 * 10 * 2, (t) => resizeBilinear(t, [9, 10]), 21);
    expect(relativeError(analytic, numeric)).toBeLessThan(1e-3);
  });
});

describe('interpolationMatrix', () => {
  it('gives PyTorch align_corners=False weights for 2 -> 4', () => {
    // src = (i + 0.5) / 2 - 0.5 = -0.25 (clamped 0), 0.25, 0.75, 1.25 (clamped to the last row)
    expect(Array.from(interpolationMatrix(2, 4))).toEqual([1, 0, 0.75, 0.25, 0.25, 0.75, 0, 1]);
  });
});
