import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { createHead, type Head } from '../../src/heads/head.js';
import { egbHeadSpec, parseHeadSpec, type HeadSpec } from '../../src/heads/head-spec.js';

const LN2 = Math.log(2);
const LN3 = Math.log(3);

/**
 * One image, one row of three pixels, K = 3:
 *   A: z = [0, ln2, 0],    label 1
 *   B: z = [ln3, 0, 0],    label 2
 *   C: z = [9, -7, 5],     label 255 (void)
 * so N = 2.
 */
function batch(): { logits: tf.Tensor4D; labels: tf.Tensor3D } {
  return {
    logits: tf.tensor4d([0, LN2, 0, LN3, 0, 0, 9, -7, 5], [1, 1, 3, 3]),
    labels: tf.tensor3d([1, 2, 255], [1, 1, 3], 'int32'),
  };
}

/** The values with -0 turned into 0 (a masked product may give -0; it is still zero). */
function plain(values: ArrayLike<number>): number[] {
  return Array.from(values, (v) => v + 0);
}

function expectClose(actual: ArrayLike<number>, expected: number[], digits = 5): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) expect(actual[i]).toBeCloseTo(expected[i], digits);
}

interface Case {
  name: string;
  spec: HeadSpec;
  logits?: number[];
  loss: number;
  grad: number[];
}

// Hand-computed expectations for the batch above (gradients already divided by N = 2).
const CASES: Case[] = [
  {
    // A: p = [1/4, 1/2, 1/4], CE = ln 2; B: p = [3/5, 1/5, 1/5], CE = ln 5. Mean: ln(10)/2.
    name: 'softmax',
    spec: { kind: 'softmax' },
    loss: Math.log(10) / 2,
    grad: [0.125, -0.25, 0.125, 0.3, 0.1, -0.4, 0, 0, 0],
  },
  {
    // alpha = 1/3: A: y = [1/3, 2/3, 1/3], y - t = [1/3, -1/3, 1/3], 0.5*sum sq = 1/6.
    // B: y = [1, 1/3, 1/3], y - t = [1, 1/3, -2/3], 0.5*sum sq = 7/9. Loss (1/6 + 7/9)/2 = 17/36.
    name: 'egb exp (defaults)',
    spec: egbHeadSpec(3),
    loss: 17 / 36,
    grad: [1 / 6, -1 / 6, 1 / 6, 1 / 2, 1 / 6, -1 / 3, 0, 0, 0],
  },
  {
    // alpha = 0.5, beta = 0.1: A: y = [0.6, 1.1, 0.6], y - t = [0.6, 0.1, 0.6], 0.5*sum sq = 0.365.
    // B: y = [1.6, 0.6, 0.6], y - t = [1.6, 0.6, -0.4], 0.5*sum sq = 1.54. Loss 1.905/2.
    name: 'egb exp alpha=0.5 beta=0.1',
    spec: parseHeadSpec('egb:exp:alpha=0.5,beta=0.1', 3),
    loss: 1.905 / 2,
    grad: [0.3, 0.05, 0.3, 0.8, 0.3, -0.2, 0, 0, 0],
  },
  {
    // alpha = 0.001: A: z = [10, -10, 0] label 1 -> y = [1, -1, 0], y - t = [1, -2, 0], 2.5.
    // B: z = [0, 20, 0] label 2 -> y = [0, 8, 0], y - t = [0, 8, -1], 32.5. Loss 35/2.
    name: 'egb pow3 (defaults)',
    spec: egbHeadSpec(3, 'pow3'),
    logits: [10, -10, 0, 0, 20, 0, 1e4, 0, -1e4],
    loss: 17.5,
    grad: [0.5, -1, 0, 0, 4, -0.5, 0, 0, 0],
  },
  {
    // A: z = [1, 0, -1] label 1 -> y - t = [1, -1, -1], 1.5. B: z = [0.5, 0.5, 2] label 2 ->
    // y - t = [0.5, 0.5, 1], 0.75. Loss 2.25/2.
    name: 'linear',
    spec: { kind: 'linear' },
    logits: [1, 0, -1, 0.5, 0.5, 2, 3, 3, 3],
    loss: 1.125,
    grad: [0.5, -0.5, -0.5, 0.25, 0.25, 0.5, 0, 0, 0],
  },
];

for (const backend of ['cpu', 'wasm']) {
  describe(`heads on ${backend}`, () => {
    beforeAll(async () => {
      await tf.setBackend(backend);
      await tf.ready();
    });

    describe.each(CASES)('$name', ({ spec, logits: values, loss, grad }) => {
      const head: Head = createHead(spec, 3);
      const make = () => {
        const b = batch();
        if (values === undefined) return b;
        b.logits.dispose();
        return { logits: tf.tensor4d(values, [1, 1, 3, 3]), labels: b.labels };
      };

      it('lossAndGradient matches the hand-computed loss and gradient', () => {
        const { logits, labels } = make();
        const out = head.lossAndGradient(logits, labels);
        expect(out.loss.shape).toEqual([]);
        expect(out.grad.shape).toEqual([1, 1, 3, 3]);
        expect(out.loss.dataSync()[0]).toBeCloseTo(loss, 5);
        expectClose(out.grad.dataSync(), grad);
        expect(out.validPixels.dataSync()[0]).toBe(2);
        tf.dispose([out.loss, out.grad, out.validPixels, logits, labels]);
      });

      it('loss() hands exactly that gradient to autodiff (tf.grad and tf.variableGrads)', () => {
        const { logits, labels } = make();
        const { value, grad: g } = tf.valueAndGrad((z: tf.Tensor) => head.loss(z as tf.Tensor4D, labels))(logits);
        expect(value.dataSync()[0]).toBeCloseTo(loss, 5);
        expectClose(g.dataSync(), grad);
        // Upstream gradients scale it (chain rule through the custom op).
        const g3 = tf.grad((z: tf.Tensor) => tf.mul(head.loss(z as tf.Tensor4D, labels), 3))(logits);
        expectClose(
          g3.dataSync(),
          grad.map((x) => 3 * x),
        );
        const v = tf.variable(logits);
        const vg = tf.variableGrads(() => head.loss(v, labels), [v]);
        expectClose(vg.grads[v.name].dataSync(), grad);
        tf.dispose([value, g, g3, v, vg.value, vg.grads[v.name], logits, labels]);
      });

      it('does not leak tensors', () => {
        const { logits, labels } = make();
        const run = () => {
          tf.dispose(Object.values(head.lossAndGradient(logits, labels)));
          const { value, grad: g } = tf.valueAndGrad((z: tf.Tensor) => head.loss(z as tf.Tensor4D, labels))(logits);
          tf.dispose([value, g, head.predict(logits), head.scores(logits)]);
        };
        run();
        const before = tf.memory().numTensors;
        for (let i = 0; i < 5; i++) run();
        expect(tf.memory().numTensors).toBe(before);
        tf.dispose([logits, labels]);
      });
    });

    it('egb gradient is not the true derivative of its reported loss', () => {
      const head = createHead(egbHeadSpec(3), 3);
      const { logits, labels } = batch();
      const headGrad = tf.grad((z: tf.Tensor) => head.loss(z as tf.Tensor4D, labels))(logits);
      // The true derivative multiplies (y - t)/N by y' = alpha exp(z) = y:
      // A: [1/3 * 1/3, -1/3 * 2/3, 1/3 * 1/3] / 2; B: [1 * 1, 1/3 * 1/3, -2/3 * 1/3] / 2.
      const trueLoss = (z: tf.Tensor) => {
        const t = tf
          .oneHot(tf.tensor1d([1, 2, 0], 'int32'), 3)
          .reshape([1, 1, 3, 3])
          .cast('float32');
        const mask = tf.tensor4d([1, 1, 0], [1, 1, 3, 1]);
        const y = tf.mul(tf.exp(z), 1 / 3);
        return tf.div(tf.mul(tf.sum(tf.mul(tf.square(tf.sub(y, t)), mask)), 0.5), 2) as tf.Scalar;
      };
      const { value, grad: trueGrad } = tf.valueAndGrad(trueLoss)(logits);
      expect(value.dataSync()[0]).toBeCloseTo(17 / 36, 5);
      expectClose(trueGrad.dataSync(), [1 / 18, -1 / 9, 1 / 18, 1 / 2, 1 / 18, -1 / 9, 0, 0, 0]);
      expectClose(headGrad.dataSync(), [1 / 6, -1 / 6, 1 / 6, 1 / 2, 1 / 6, -1 / 3, 0, 0, 0]);
      tf.dispose([headGrad, value, trueGrad, logits, labels]);
    });

    it.each(['softmax', 'egb', 'egb:pow3', 'linear'])('%s: an all-void batch gives loss 0 and gradient 0', (text) => {
      const head = createHead(parseHeadSpec(text, 3), 3);
      const logits = tf.tensor4d([1, 2, 3, -4, 5, 6], [1, 2, 1, 3]);
      const labels = tf.tensor3d([255, 255], [1, 2, 1], 'int32');
      const out = head.lossAndGradient(logits, labels);
      expect(out.loss.dataSync()[0]).toBe(0);
      expect(plain(out.grad.dataSync())).toEqual([0, 0, 0, 0, 0, 0]);
      expect(out.validPixels.dataSync()[0]).toBe(0);
      const g = tf.grad((z: tf.Tensor) => head.loss(z as tf.Tensor4D, labels))(logits);
      expect(plain(g.dataSync())).toEqual([0, 0, 0, 0, 0, 0]);
      tf.dispose([out.loss, out.grad, out.validPixels, g, logits, labels]);
    });

    it.each(['softmax', 'egb', 'egb:exp:alpha=1', 'egb:pow3', 'linear'])('%s: logits of +-1e4 give finite loss and gradients', (text) => {
      const head = createHead(parseHeadSpec(text, 3), 3);
      const logits = tf.tensor4d([1e4, -1e4, 0, -1e4, -1e4, -1e4, 1e4, 1e4, 1e4, 0, 1e4, -1e4], [2, 1, 2, 3]);
      const labels = tf.tensor3d([0, 1, 2, 255], [2, 1, 2], 'int32');
      const out = head.lossAndGradient(logits, labels);
      const g = tf.grad((z: tf.Tensor) => head.loss(z as tf.Tensor4D, labels))(logits);
      const scores = head.scores(logits);
      const loss = out.loss.dataSync()[0];
      expect(Number.isFinite(loss)).toBe(true);
      expect(loss).toBeGreaterThanOrEqual(0);
      for (const x of [...out.grad.dataSync(), ...g.dataSync(), ...scores.dataSync()]) expect(Number.isFinite(x)).toBe(true);
      // The void pixel (last) stays at zero gradient even with huge logits.
      expect(plain(out.grad.dataSync().slice(9))).toEqual([0, 0, 0]);
      tf.dispose([out.loss, out.grad, out.validPixels, g, scores, logits, labels]);
    });

    it('softmax at +-1e4 still has the exact limit values', () => {
      // Pixel 0: z = [1e4, -1e4, 0] label 0 -> p = [1, 0, 0], CE 0, grad 0.
      // Pixel 1: z = [1e4, -1e4, 0] label 1 -> CE = 2e4, grad = [1, -1, 0] / 2.
      const head = createHead({ kind: 'softmax' }, 3);
      const logits = tf.tensor4d([1e4, -1e4, 0, 1e4, -1e4, 0], [1, 1, 2, 3]);
      const labels = tf.tensor3d([0, 1], [1, 1, 2], 'int32');
      const out = head.lossAndGradient(logits, labels);
      expect(out.loss.dataSync()[0]).toBeCloseTo(1e4, 1);
      expectClose(out.grad.dataSync(), [0, 0, 0, 0.5, -0.5, 0]);
      tf.dispose([out.loss, out.grad, out.validPixels, logits, labels]);
    });

    it('predict is argmax z; scores are probabilities, boosted outputs or z', () => {
      const logits = tf.tensor4d([0, LN2, 0, LN3, 0, 0, 9, -7, 5], [1, 1, 3, 3]);
      for (const text of ['softmax', 'egb', 'egb:pow3', 'linear']) {
        const pred = createHead(parseHeadSpec(text, 3), 3).predict(logits);
        expect(pred.dtype).toBe('int32');
        expect(pred.shape).toEqual([1, 1, 3]);
        expect(Array.from(pred.dataSync())).toEqual([1, 0, 0]);
        pred.dispose();
      }
      const soft = createHead({ kind: 'softmax' }, 3).scores(logits);
      expectClose(soft.dataSync().slice(0, 6), [0.25, 0.5, 0.25, 0.6, 0.2, 0.2]);
      const egb = createHead(parseHeadSpec('egb:exp:alpha=0.5,beta=0.1', 3), 3).scores(logits);
      expectClose(egb.dataSync().slice(0, 6), [0.6, 1.1, 0.6, 1.6, 0.6, 0.6]);
      const lin = createHead({ kind: 'linear' }, 3).scores(logits);
      expectClose(lin.dataSync(), [0, LN2, 0, LN3, 0, 0, 9, -7, 5]);
      tf.dispose([soft, egb, lin, logits]);
    });

    it('rejects mismatched shapes and class counts', () => {
      const head = createHead({ kind: 'softmax' }, 3);
      const logits = tf.zeros([1, 2, 2, 3]) as tf.Tensor4D;
      const bad = tf.zeros([1, 2, 3], 'int32') as tf.Tensor3D;
      expect(() => head.lossAndGradient(logits, bad)).toThrow(/differ in N, H or W/);
      const four = tf.zeros([1, 2, 2, 4]) as tf.Tensor4D;
      expect(() => head.lossAndGradient(four, tf.zeros([1, 2, 2], 'int32') as tf.Tensor3D)).toThrow(/4 classes/);
      tf.dispose([logits, bad, four]);
    });
  });
}

afterAll(async () => {
  await tf.setBackend('cpu');
});
