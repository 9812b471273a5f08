import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { conv2d } from '../../src/backend/conv2d.js';
import { maxPool3x3s2 } from '../../src/backend/pool.js';
import {
  flipAndSwapChannelsLoop,
  flipAndSwapChannelsOps,
  forceTensorOpRearrange,
  maxPool3x3s2GradientLoop,
  maxPool3x3s2GradientOps,
  usesHostLoops,
  zeroInsertLoop,
  zeroInsertOps,
} from '../../src/backend/rearrange.js';
import { Rng } from '../../src/core/random.js';

type T4 = tf.Tensor4D;

function random(rng: Rng, shape: [number, number, number, number], levels = 0): T4 {
  const size = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(size);
  // levels > 0: few distinct values, so that max-pool windows hold ties
  for (let i = 0; i < size; i++) data[i] = levels > 0 ? rng.int(levels) - 1 : rng.uniform(-1, 1);
  return tf.tensor4d(data, shape);
}

function values(t: tf.Tensor): number[] {
  return Array.from(t.dataSync());
}

describe.each(['cpu', 'wasm'])('tensor-op rearrangements on %s', (backend) => {
  beforeAll(async () => {
    await tf.setBackend(backend);
    await tf.ready();
  });
  afterEach(() => forceTensorOpRearrange(false));

  it('flipAndSwapChannels: tensor ops equal the JS loop', () => {
    const rng = new Rng(1, 'rearrange');
    for (const shape of [
      [3, 3, 4, 5],
      [1, 1, 3, 2],
      [7, 7, 3, 8],
    ] as [number, number, number, number][]) {
      const w = random(rng, shape);
      const ops = flipAndSwapChannelsOps(w);
      expect(ops.shape).toEqual([shape[0], shape[1], shape[3], shape[2]]);
      expect(values(ops)).toEqual(values(flipAndSwapChannelsLoop(w)));
    }
  });

  it('zeroInsert: tensor ops equal the JS loop', () => {
    const rng = new Rng(2, 'rearrange');
    for (const [shape, s] of [
      [[2, 5, 4, 3], 2],
      [[1, 3, 6, 2], 3],
      [[2, 1, 1, 4], 2],
    ] as [[number, number, number, number], number][]) {
      const dy = random(rng, shape);
      const ops = zeroInsertOps(dy, s);
      const loop = zeroInsertLoop(dy, s);
      expect(ops.shape).toEqual(loop.shape);
      expect(values(ops)).toEqual(values(loop));
    }
  });

  it('max-pool gradient: tensor ops equal the JS loop, ties included', () => {
    const rng = new Rng(3, 'rearrange');
    for (const shape of [
      [2, 7, 9, 3],
      [1, 8, 6, 2],
      [1, 1, 2, 1],
      [2, 5, 5, 4],
    ] as [number, number, number, number][]) {
      for (const levels of [0, 3]) {
        const x = random(rng, shape, levels);
        const ho = Math.floor((shape[1] - 1) / 2) + 1;
        const wo = Math.floor((shape[2] - 1) / 2) + 1;
        const dy = random(rng, [shape[0], ho, wo, shape[3]]);
        expect(values(maxPool3x3s2GradientOps(x, dy))).toEqual(values(maxPool3x3s2GradientLoop(x, dy)));
      }
    }
  });

  it('forcing the tensor-op path switches off the host loops', () => {
    expect(usesHostLoops()).toBe(true);
    forceTensorOpRearrange(true);
    expect(usesHostLoops()).toBe(false);
  });

  it('forced device path: 1x1 stride-1 conv gradients as matMuls equal the conv formulation', () => {
    const grads = (): number[][] =>
      tf.tidy(() => {
        const r = new Rng(6, 'pointwise');
        const x = random(r, [2, 5, 6, 7]);
        const w = random(r, [1, 1, 7, 3]);
        const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(conv2d(a as T4, b as T4, { dilation: 2 }))))([x, w]);
        return [values(dx as tf.Tensor), values(dw as tf.Tensor)];
      });
    const conv = grads();
    forceTensorOpRearrange(true);
    const matMul = grads();
    for (let i = 0; i < 2; i++) {
      const a = matMul[i] as number[];
      const b = conv[i] as number[];
      expect(a.length).toBe(b.length);
      const err = Math.sqrt(a.reduce((acc, v, j) => acc + (v - (b[j] as number)) ** 2, 0) / b.reduce((acc, v) => acc + v * v, 0));
      expect(err).toBeLessThan(1e-6);
    }
  });

  it('whole conv and max-pool backward: the forced tensor-op path equals the JS-loop path', () => {
    const backward = (): number[][] =>
      tf.tidy(() => {
        const out: number[][] = [];
        const r2 = new Rng(5, 'backward');
        for (const [k, stride, dilation] of [
          [3, 1, 1],
          [3, 2, 1],
          [1, 2, 1],
          [7, 2, 1],
          [3, 1, 2],
          [3, 2, 2],
        ] as [number, number, number][]) {
          const x = random(r2, [2, 9, 8, 3]);
          const w = random(r2, [k, k, 3, 4]);
          const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => {
            const y = conv2d(a as T4, b as T4, { stride, dilation });
            return tf.sum(tf.mul(y, tf.sin(y)));
          })([x, w]);
          out.push(values(dx as tf.Tensor), values(dw as tf.Tensor));
        }
        const xp = random(r2, [2, 9, 7, 3], 3);
        const gp = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(maxPool3x3s2(a as T4), tf.range(1, 2 * 5 * 4 * 3 + 1).reshape([2, 5, 4, 3]))))(
          xp,
        );
        out.push(values(gp));
        return out;
      });
    const loops = backward();
    forceTensorOpRearrange(true);
    const ops = backward();
    expect(ops.length).toBe(loops.length);
    for (let i = 0; i < ops.length; i++) expect(ops[i]).toEqual(loops[i]);
  });
});
