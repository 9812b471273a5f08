import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { ConfusionMatrix, DeviceConfusionMatrix } from '../../src/metrics/confusion-matrix.js';
import { Rng } from '../../src/core/random.js';

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

  it('updateFromTensors counts int32 and float tensors', async () => {
    const cm = new ConfusionMatrix(3);
    const labels = tf.tensor3d(Array.from(LABELS).concat([2]), [1, 3, 4], 'int32');
    const preds = tf.tensor3d(Array.from(PREDS).concat([2]), [1, 3, 4], 'int32');
    await cm.updateFromTensors(labels, preds);
    await cm.updateFromTensors(tf.cast(labels, 'float32'), tf.cast(preds, 'float32'));
    const once = [...EXPECTED];
    once[8] += 1;
    expect(Array.from(cm.counts)).toEqual(once.map((x) => 2 * x));
    await expect(cm.updateFromTensors(labels, tf.zeros([2]))).rejects.toThrow(/differ in size/);
    await expect(cm.updateFromTensors(tf.tensor1d([0.5]), tf.tensor1d([0]))).rejects.toThrow(/not a class index/);
  });
});

describe.each(['cpu', 'wasm'])('DeviceConfusionMatrix on %s', (backend) => {
  beforeAll(async () => {
    await tf.setBackend(backend);
    await tf.ready();
  });

  it('counts the hand-computed matrix on the device, skipping void, over several updates', async () => {
    const dcm = new DeviceConfusionMatrix(3);
    const labels = tf.tensor1d(Int32Array.from(LABELS), 'int32');
    const preds = tf.tensor1d(Int32Array.from(PREDS), 'int32');
    const floatLabels = tf.cast(labels, 'float32');
    const wrongSize = tf.zeros([2]);
    const before = tf.memory().numTensors;
    dcm.update(labels, preds);
    dcm.update(floatLabels, preds);
    expect(tf.memory().numTensors).toBe(before + 1);
    const cm = await dcm.read();
    expect(Array.from(cm.counts)).toEqual(EXPECTED.map((x) => 2 * x));
    expect(() => dcm.update(labels, wrongSize)).toThrow(/differ in size/);
    dcm.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('equals the host matrix on random batches', async () => {
    const rng = new Rng(7, 'confusion');
    const k = 21;
    const host = new ConfusionMatrix(k);
    const dcm = new DeviceConfusionMatrix(k);
    for (let b = 0; b < 3; b++) {
      const t = Int32Array.from({ length: 2 * 33 * 17 }, () => (rng.next() < 0.1 ? 255 : rng.int(k)));
      const p = Int32Array.from({ length: t.length }, () => rng.int(k));
      host.update(t, p);
      dcm.update(tf.tensor3d(t, [2, 33, 17], 'int32'), tf.tensor3d(p, [2, 33, 17], 'int32'));
    }
    expect(Array.from((await dcm.read()).counts)).toEqual(Array.from(host.counts));
    dcm.dispose();
  });
});
