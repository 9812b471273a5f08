import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { conv2d } from '../../src/backend/conv2d.js';
import { Rng } from '../../src/core/random.js';
import { type ConvCase, dot, finiteDifferences, outSize, referenceConv, relativeError } from './reference-conv.js';

function randomArray(rng: Rng, length: number): Float64Array {
  const a = new Float64Array(length);
  for (let i = 0; i < length; i++) a[i] = rng.uniform(-1, 1);
  return a;
}

interface Grads {
  y: Float32Array;
  dx: Float32Array;
  dw: Float32Array;
}

/** Forward and gradients of L = sum(conv(x, w) * r) through seg's conv2d on the active backend. */
function segGradients(c: ConvCase, x: Float64Array, w: Float64Array, r: Float64Array): Grads {
  return tf.tidy(() => {
    const xt = tf.tensor4d(Float32Array.from(x), [c.n, c.h, c.w, c.cin]);
    const wt = tf.tensor4d(Float32Array.from(w), [c.k, c.k, c.cin, c.cout]);
    const rt = tf.tensor4d(Float32Array.from(r), [c.n, outSize(c.h, c.stride), outSize(c.w, c.stride), c.cout]);
    const opts = { stride: c.stride, dilation: c.dilation };
    const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(conv2d(a as tf.Tensor4D, b as tf.Tensor4D, opts), rt)))([
      xt,
      wt,
    ]);
    return {
      y: conv2d(xt, wt, opts).dataSync() as Float32Array,
      dx: (dx as tf.Tensor).dataSync() as Float32Array,
      dw: (dw as tf.Tensor).dataSync() as Float32Array,
    };
  });
}

const cases: ConvCase[] = [];
for (const stride of [1, 2])
  for (const dilation of [1, 2, 4]) for (const k of [1, 3, 7]) cases.push({ n: 2, h: 9, w: 8, cin: 2, cout: 3, k, stride, dilation });

describe.each(['cpu', 'wasm'])('conv2d gradients on %s', (backend) => {
  beforeAll(async () => {
    await tf.setBackend(backend);
    await tf.ready();
  });

  it.each(cases.map((c) => [`s${c.stride} d${c.dilation} k${c.k}`, c] as const))('matches float64 finite differences: %s', (_name, c) => {
    const rng = new Rng(c.k * 100 + c.stride * 10 + c.dilation, 'conv-test');
    const x = randomArray(rng, c.n * c.h * c.w * c.cin);
    const w = randomArray(rng, c.k * c.k * c.cin * c.cout);
    const r = randomArray(rng, c.n * outSize(c.h, c.stride) * outSize(c.w, c.stride) * c.cout);
    const loss = (xv: Float64Array, wv: Float64Array): number => dot(referenceConv(c, xv, wv), r);
    const fdX = finiteDifferences(x, (v) => loss(v, w));
    const fdW = finiteDifferences(w, (v) => loss(x, v));
    const got = segGradients(c, x, w, r);
    expect(relativeError(got.y, referenceConv(c, x, w))).toBeLessThan(1e-5);
    expect(relativeError(got.dx, fdX)).toBeLessThan(1e-4);
    expect(relativeError(got.dw, fdW)).toBeLessThan(1e-4);
  });
});

describe('conv2d against tfjs and across backends', () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('equals tfjs own conv2d gradients at dilation 1 on cpu', async () => {
    await tf.setBackend('cpu');
    for (const stride of [1, 2]) {
      for (const k of [1, 3, 7]) {
        const c: ConvCase = { n: 2, h: 12, w: 10, cin: 3, cout: 4, k, stride, dilation: 1 };
        const rng = new Rng(k + stride, 'tfjs-ref');
        const x = randomArray(rng, c.n * c.h * c.w * c.cin);
        const w = randomArray(rng, k * k * c.cin * c.cout);
        const r = randomArray(rng, c.n * outSize(c.h, stride) * outSize(c.w, stride) * c.cout);
        const ours = segGradients(c, x, w, r);
        const p = (k - 1) / 2;
        const theirs = tf.tidy(() => {
          const xt = tf.tensor4d(Float32Array.from(x), [c.n, c.h, c.w, c.cin]);
          const wt = tf.tensor4d(Float32Array.from(w), [k, k, c.cin, c.cout]);
          const rt = tf.tensor4d(Float32Array.from(r), [c.n, outSize(c.h, stride), outSize(c.w, stride), c.cout]);
          const f = (a: tf.Tensor, b: tf.Tensor): tf.Tensor =>
            tf.sum(
              tf.mul(
                tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, stride, [
                  [0, 0],
                  [p, p],
                  [p, p],
                  [0, 0],
                ]),
                rt,
              ),
            );
          const [dx, dw] = tf.grads(f)([xt, wt]);
          return { dx: (dx as tf.Tensor).dataSync(), dw: (dw as tf.Tensor).dataSync() };
        });
        expect(relativeError(ours.dx, theirs.dx)).toBeLessThan(1e-4);
        expect(relativeError(ours.dw, theirs.dw)).toBeLessThan(1e-4);
      }
    }
  });

  it('gives the same results on wasm as on cpu', async () => {
    const c: ConvCase = { n: 2, h: 17, w: 15, cin: 8, cout: 6, k: 3, stride: 2, dilation: 1 };
    const all: Grads[] = [];
    for (const backend of ['cpu', 'wasm']) {
      await tf.setBackend(backend);
      for (const dilation of [1, 2]) {
        const rng = new Rng(7, 'cross');
        const cc = { ...c, stride: dilation === 1 ? 2 : 1, dilation };
        const x = randomArray(rng, cc.n * cc.h * cc.w * cc.cin);
        const w = randomArray(rng, 9 * cc.cin * cc.cout);
        const r = randomArray(rng, cc.n * outSize(cc.h, cc.stride) * outSize(cc.w, cc.stride) * cc.cout);
        all.push(segGradients(cc, x, w, r));
      }
    }
    for (let i = 0; i < 2; i++) {
      const cpu = all[i] as Grads;
      const wasm = all[i + 2] as Grads;
      expect(relativeError(wasm.y, cpu.y)).toBeLessThan(1e-5);
      expect(relativeError(wasm.dx, cpu.dx)).toBeLessThan(1e-5);
      expect(relativeError(wasm.dw, cpu.dw)).toBeLessThan(1e-5);
    }
  });

  it('does not leak tensors over repeated forward/backward steps', async () => {
    await tf.setBackend('wasm');
    const x = tf.randomNormal([2, 16, 16, 4]) as tf.Tensor4D;
    const w = tf.variable(tf.randomNormal([3, 3, 4, 4]) as tf.Tensor4D);
    const step = (): void => {
      tf.tidy(() => {
        const { grads } = tf.variableGrads(() => tf.sum(tf.square(conv2d(conv2d(x, w, { stride: 2 }), w, { dilation: 2 }))), [w]);
        w.assign(tf.sub(w, tf.mul(grads[w.name] as tf.Tensor, 1e-3)));
      });
    };
    step();
    const baseline = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) step();
    expect(tf.memory().numTensors).toBe(baseline);
    tf.dispose([x, w]);
  });

  it('with inputGradient false gives the same filter gradient and no input gradient', async () => {
    await tf.setBackend('wasm');
    const x = tf.randomNormal([2, 11, 9, 3], 0, 1, 'float32', 4) as tf.Tensor4D;
    const w = tf.randomNormal([7, 7, 3, 5], 0, 1, 'float32', 5) as tf.Tensor4D;
    const full = tf.grad((wi: tf.Tensor) => tf.sum(tf.square(conv2d(x, wi as tf.Tensor4D, { stride: 2 }))))(w);
    const filterOnly = tf.grad((wi: tf.Tensor) => tf.sum(tf.square(conv2d(x, wi as tf.Tensor4D, { stride: 2, inputGradient: false }))))(w);
    expect(relativeError(filterOnly.dataSync(), full.dataSync())).toBeLessThan(1e-6);
    // x is not on the gradient path at all.
    expect(() => tf.grad((xi: tf.Tensor) => tf.sum(conv2d(xi as tf.Tensor4D, w, { inputGradient: false })))(x)).toThrow(
      /Cannot compute gradient/,
    );
  });

  it('refuses an even kernel and a bad stride with a message', () => {
    const x = tf.zeros([1, 4, 4, 1]) as tf.Tensor4D;
    expect(() => conv2d(x, tf.zeros([2, 2, 1, 1]) as tf.Tensor4D)).toThrow(/square odd kernel/);
    expect(() => conv2d(x, tf.zeros([3, 3, 1, 1]) as tf.Tensor4D, { stride: 3 })).toThrow(/stride must be 1 or 2/);
    expect(() => conv2d(x, tf.zeros([3, 3, 2, 1]) as tf.Tensor4D)).toThrow(/channels/);
  });
});
