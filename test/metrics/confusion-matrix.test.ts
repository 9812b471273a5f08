import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf.js';
import { ConfusionMatrix } from '../../src/metrics/confusion-matrix.js';

// 3 classes; the two 255 pixels are skipped whatever their prediction.
const LABELS = Uint8Array.from([0, 0, 0, 0, 1, 1, 1, 2, 2, 255, 255]);
const PREDS = Uint8Array.from([0, 0, 0, 1, 1, 1, 2, 2, 0, 0, 2]);
// rows = ground truth, columns = prediction:
//   gt 0: predicted 0,0,0,1 -> [3, 1, 0]
//   gt 1: predicted 1,1,2   -> [0, 2, 1]
//   gt 2: predicted 2,0     -> [1, 0, 1]
const EXPECTED = [3, 1, 0, 0, 2, 1, 1, 0, 1];

describe('ConfusionMatrix', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
    await tf.ready();
  });

  it('counts label x prediction and skips void', () => {
    const cm = new ConfusionMatrix(3);
    cm.update(LABELS, PREDS);
    expect(Array.from(cm.counts)).toEqual(EXPECTED);
    expect(cm.total).toBe(9);
    expect(cm.get(0, 1)).toBe(1);
    expect(cm.get(2, 0)).toBe(1);
  });

  it('accepts Int32Array and accumulates over updates', () => {
    const cm = new ConfusionMatrix(3);
    cm.update(Int32Array.from(LABELS), Int32Array.from(PREDS));
    cm.update(LABELS, PREDS);
    expect(Array.from(cm.counts)).toEqual(EXPECTED.map((x) => 2 * x));
    cm.reset();
    expect(cm.total).toBe(0);
  });

  it('counts returns a copy', () => {
    const cm = new ConfusionMatrix(3);
    cm.update(LABELS, PREDS);
    cm.counts[0] = 99;
    expect(cm.get(0, 0)).toBe(3);
  });

  it('merges and stays exact beyond 2^32', () => {
    const big = 2 ** 40 + 1;
    const a = ConfusionMatrix.fromCounts(2, [big, 0, 0, 1]);
    const b = ConfusionMatrix.fromCounts(2, [big, 2, 3, 4]);
    a.merge(b);
    expect(Array.from(a.counts)).toEqual([2 * big, 2, 3, 5]);
    expect(a.total).toBe(2 * big + 10);
    expect(() => a.merge(new ConfusionMatrix(3))).toThrow(/3 classes vs 2/);
  });

  it('throws on out-of-range predictions or labels and on length mismatch', () => {
    const cm = new ConfusionMatrix(3);
    expect(() => cm.update(Uint8Array.from([0, 1]), Uint8Array.from([0, 3]))).toThrow(/prediction 3 at 1 is outside 0..2/);
    expect(cm.total).toBe(0); // a failed update counts nothing
    expect(() => cm.update(Uint8Array.from([7]), Uint8Array.from([0]))).toThrow(/label 7 at 0/);
    expect(() => cm.update(Uint8Array.from([0, 1]), Uint8Array.from([0]))).toThrow(/2 labels but 1 predictions/);
    // a void label with any prediction is fine
    cm.update(Uint8Array.from([255]), Uint8Array.from([200]));
    expect(cm.total).toBe(0);
    expect(() => ConfusionMatrix.fromCounts(2, [1, 2, 3])).toThrow(/expected 4 counts/);
    expect(() => new ConfusionMatrix(0)).toThrow();
  });

  it('updateFromTensors counts int32 and float tensors', () => {
    const cm = new ConfusionMatrix(3);
    const labels = tf.tensor3d(Array.from(LABELS).concat([2]), [1, 3, 4], 'int32');
    const preds = tf.tensor3d(Array.from(PREDS).concat([2]), [1, 3, 4], 'int32');
    cm.updateFromTensors(labels, preds);
    cm.updateFromTensors(tf.cast(labels, 'float32'), tf.cast(preds, 'float32'));
    const once = [...EXPECTED];
    once[8] += 1;
    expect(Array.from(cm.counts)).toEqual(once.map((x) => 2 * x));
    expect(() => cm.updateFromTensors(labels, tf.zeros([2]))).toThrow(/differ in size/);
    expect(() => cm.updateFromTensors(tf.tensor1d([0.5]), tf.tensor1d([0]))).toThrow(/not a class index/);
  });
});
