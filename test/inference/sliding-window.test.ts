import { tfjsEngine } from '../../src/inference/engines/tfjs.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf.js';
import { resizeBilinear } from '../../src/engine/resize.js';
import { createModel, type SegmentationModel } from '../../src/segmentation/model.js';
import { chooseInferenceMode, chooseWindow, predictMask, predictScores, slideScores } from '../../src/inference/inference.js';
import { wholeImageLogits } from '../../src/segmentation/model-logits.js';
import { argmaxScores, slideWindows, windowStride } from '../../src/inference/sliding-window.js';
import { createHead } from '../../src/heads/head.js';
import { Rng } from '../../src/core/random.js';
import { SegError } from '../../src/core/errors.js';
import { estimateInferenceMemory } from '../../src/segmentation/memory-estimate.js';

function randomImage(h: number, w: number, seed: number): Float32Array {
  const rng = new Rng(seed, 'image');
  return Float32Array.from({ length: h * w * 3 }, () => rng.normal());
}

describe('slideWindows', () => {
  it('lays out mmsegmentation grid windows that end at the border', () => {
    expect(windowStride(513, 1 / 3)).toBe(342);
    expect(windowStride(40, 0.25)).toBe(30);
    const wins = slideWindows(100, 70, 40, 0.25);
    const rows = [...new Set(wins.map((w) => w.top))];
    const cols = [...new Set(wins.map((w) => w.left))];
    expect(rows).toEqual([0, 30, 60]);
    expect(cols).toEqual([0, 30]);
    expect(wins.every((w) => w.height === 40 && w.width === 40)).toBe(true);
    // An image smaller than the window: one window, the image itself.
    expect(slideWindows(20, 30, 40, 0.25)).toEqual([{ top: 0, left: 0, height: 20, width: 30 }]);
    expect(() => slideWindows(10, 10, 40, 1)).toThrow(SegError);
    expect(() => slideWindows(10, 10, 4, 0.5)).toThrow(/--window/);
  });

  it('argmax keeps the first maximum, as tf.argMax', () => {
    expect(Array.from(argmaxScores(Float32Array.of(1, 3, 3, 0.5, 0.2, 0.1), 3))).toEqual([1, 0]);
  });
});

describe('sliding-window inference', () => {
  let model: SegmentationModel;
  beforeAll(async () => {
    await tf.setBackend('wasm');
    await tf.ready();
    model = createModel({ backbone: 'resnet18', outputStride: 16, width: 0.125, numClasses: 4, multiGrid: false }, 2);
    const classifier = model.params.get('classifier.4.weight') as tf.Variable;
    classifier.assign(tf.tidy(() => tf.randomNormal(classifier.shape, 0, 1, 'float32', 7)));
  });
  afterAll(() => {
    model.dispose();
  });

  it('equals whole-image inference when one window covers the image', async () => {
    const [h, w] = [37, 29];
    const image = randomImage(h, w, 3);
    const head = createHead({ kind: 'egb', boost: 'exp', alpha: 0.25, beta: 0 }, 4);
    for (const options of [{ flip: true }, { scales: [0.5, 1.25], flip: true }]) {
      const whole = await predictScores(tfjsEngine(model), head, image, h, w, options);
      const expected = whole.dataSync();
      whole.dispose();
      const slid = await slideScores(tfjsEngine(model), head, image, h, w, { ...options, mode: 'slide', window: 64 });
      expect(slid.length).toBe(expected.length);
      for (let i = 0; i < slid.length; i++) expect(slid[i]).toBeCloseTo(expected[i] as number, 5);
    }
  });

  it('averages the head scores of overlapping windows (independent sum and count)', async () => {
    const [h, w, k] = [44, 36, 4];
    const image = randomImage(h, w, 5);
    const head = createHead({ kind: 'softmax' }, k);
    const window = 24;
    const sum = new Float64Array(h * w * k);
    const count = new Float64Array(h * w);
    const x = tf.tensor4d(image, [1, h, w, 3]);
    // Window tops/lefts by hand: stride 24 - round(24 / 3) = 16, the last shifted back to end at the border.
    const tops = [0, 16, 20];
    const lefts = [0, 12];
    for (const top of tops) {
      for (const left of lefts) {
        const scores = tf
          .tidy(() => {
            const crop = x.slice([0, top, left, 0], [1, window, window, 3]);
            const plain = head.scores(wholeImageLogits(model, crop));
            const mirrored = head.scores(tf.reverse(wholeImageLogits(model, tf.reverse(crop, 2) as tf.Tensor4D), 2) as tf.Tensor4D);
            return tf.div(tf.add(plain, mirrored), 2);
          })
          .dataSync();
        for (let y = 0; y < window; y++) {
          for (let xx = 0; xx < window; xx++) {
            const p = (top + y) * w + left + xx;
            count[p] = (count[p] as number) + 1;
            for (let c = 0; c < k; c++) sum[p * k + c] = (sum[p * k + c] as number) + (scores[(y * window + xx) * k + c] as number);
          }
        }
      }
    }
    x.dispose();
    expect(Math.max(...count)).toBe(6); // rows 20-23 lie in three window rows, columns 12-23 in two
    const slid = await slideScores(tfjsEngine(model), head, image, h, w, { mode: 'slide', window, overlap: 1 / 3, flip: true });
    for (let p = 0; p < h * w; p++) {
      for (let c = 0; c < k; c++) expect(slid[p * k + c]).toBeCloseTo((sum[p * k + c] as number) / (count[p] as number), 5);
    }
    // It is not the whole-image result (the windows see less context).
    const whole = await predictScores(tfjsEngine(model), head, image, h, w, { flip: true });
    const wholeData = whole.dataSync();
    whole.dispose();
    expect(Math.max(...slid.map((v, i) => Math.abs(v - (wholeData[i] as number))))).toBeGreaterThan(1e-3);
    // The mask of slide mode is the argmax of these scores.
    const mask = await predictMask(tfjsEngine(model), head, image, h, w, { mode: 'slide', window, overlap: 1 / 3, flip: true });
    expect(Array.from(mask)).toEqual(Array.from(argmaxScores(slid, k)));
  });

  it('composes windows with multi-scale: windowed scores of each scale, resized and averaged', async () => {
    const [h, w, k] = [30, 26, 4];
    const image = randomImage(h, w, 8);
    const head = createHead({ kind: 'linear' }, k);
    const opts = { mode: 'slide' as const, window: 24, overlap: 0.25 };
    const got = await slideScores(tfjsEngine(model), head, image, h, w, { ...opts, scales: [1, 1.5] });
    const at1 = await slideScores(tfjsEngine(model), head, image, h, w, opts);
    const scaled = tf.tidy(() => resizeBilinear(tf.tensor4d(image, [1, h, w, 3]), [45, 39]));
    const at15 = await slideScores(tfjsEngine(model), head, scaled.dataSync() as Float32Array, 45, 39, opts);
    scaled.dispose();
    const back = tf.tidy(() => resizeBilinear(tf.tensor4d(at15, [1, 45, 39, k]), [h, w]).dataSync());
    for (let i = 0; i < got.length; i++) expect(got[i]).toBeCloseTo(((at1[i] as number) + (back[i] as number)) / 2, 5);
  });

  it('auto slides a big image under a small memory limit, and keeps small images whole', () => {
    expect(chooseInferenceMode(tfjsEngine(model), 2000, 3000, { mode: 'auto', memoryLimit: 200 * 2 ** 20 })).toBe('slide');
    expect(chooseInferenceMode(tfjsEngine(model), 40, 40, { mode: 'auto', memoryLimit: 200 * 2 ** 20 })).toBe('whole');
    expect(chooseInferenceMode(tfjsEngine(model), 2000, 3000, { mode: 'auto' })).toBe('whole'); // no known limit
    expect(chooseInferenceMode(tfjsEngine(model), 2000, 3000, { mode: 'whole', memoryLimit: 1 })).toBe('whole');
    expect(chooseInferenceMode(tfjsEngine(model), 20, 20, { mode: 'slide' })).toBe('slide');
  });

  it('auto shrinks the window until one window fits the limit', () => {
    const big = { backbone: 'resnet101', outputStride: 16, width: 1, numClasses: 21, multiGrid: false } as const;
    const bigModel = { config: big } as unknown as SegmentationModel;
    const limit = 2.8 * 2 ** 30;
    const window = chooseWindow(tfjsEngine(bigModel), { mode: 'auto', memoryLimit: limit, flip: true });
    expect(window).toBeLessThan(513);
    expect((513 - window) % 32).toBe(0);
    const bytes = (win: number, side = win): number => estimateInferenceMemory(big, side, side, 2).bytes + 3 * 2 * win * win * 21 * 4;
    expect(bytes(window)).toBeLessThanOrEqual(limit);
    expect(bytes(window + 32)).toBeGreaterThan(limit);
    // With padToStride the windows are estimated at their padded size.
    const padded = chooseWindow(tfjsEngine(bigModel), { mode: 'auto', memoryLimit: limit, flip: true, padToStride: true });
    const pad = (n: number): number => Math.ceil(n / 16) * 16;
    expect(bytes(padded, pad(padded))).toBeLessThanOrEqual(limit);
    expect(bytes(padded + 32, pad(padded + 32))).toBeGreaterThan(limit);
    expect(chooseWindow(tfjsEngine(bigModel), { mode: 'slide', memoryLimit: limit, window: 400 })).toBe(400);
    expect(chooseWindow(tfjsEngine(model), { mode: 'auto', memoryLimit: limit })).toBe(513);
  });

  it('leaves no tensors behind', async () => {
    const image = randomImage(40, 40, 9);
    const head = createHead({ kind: 'softmax' }, 4);
    await predictMask(tfjsEngine(model), head, image, 40, 40, { mode: 'slide', window: 24, scales: [1, 0.75], flip: true });
    const before = tf.memory().numTensors;
    await predictMask(tfjsEngine(model), head, image, 40, 40, { mode: 'slide', window: 24, scales: [1, 0.75], flip: true });
    expect(tf.memory().numTensors).toBe(before);
  });
});
