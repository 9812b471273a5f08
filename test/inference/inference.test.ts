import { tfjsEngine } from '../../src/inference/engines/tfjs.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf.js';
import { resizeBilinear } from '../../src/engine/resize.js';
import { createModel, type SegmentationModel } from '../../src/segmentation/model.js';
import { predictMask, predictScores } from '../../src/inference/inference.js';
import { paddedSize, wholeImageLogits } from '../../src/segmentation/model-logits.js';
import { createHead } from '../../src/heads/head.js';
import { Rng } from '../../src/core/random.js';
import { SegError } from '../../src/core/errors.js';

function randomImage(h: number, w: number, seed: number): Float32Array {
  const rng = new Rng(seed, 'image');
  return Float32Array.from({ length: h * w * 3 }, () => rng.normal());
}

describe('inference', () => {
  let model: SegmentationModel;
  beforeAll(async () => {
    await tf.setBackend('wasm');
    await tf.ready();
    model = createModel({ backbone: 'resnet18', outputStride: 16, width: 0.125, numClasses: 4, multiGrid: false }, 2);
    // The classifier starts near 0 (std 0.01): give it unit-scale weights so predictions vary.
    const classifier = model.params.get('classifier.4.weight') as tf.Variable;
    classifier.assign(tf.tidy(() => tf.randomNormal(classifier.shape, 0, 1, 'float32', 7)));
  });
  afterAll(() => {
    model.dispose();
    tf.disposeVariables();
  });

  it('runs the network on the image as it is; padToStride pads to the output stride and crops back', async () => {
    expect(paddedSize(37, 16)).toBe(48);
    expect(paddedSize(32, 16)).toBe(32);
    const x = tf.tensor4d(randomImage(37, 29, 1), [1, 37, 29, 3]);
    const plain = tf.tidy(() => model.forward(x, { training: false }));
    const whole = wholeImageLogits(model, x);
    expect(Array.from(whole.dataSync())).toEqual(Array.from(plain.dataSync()));
    const padded = tf.tidy(() =>
      model
        .forward(
          tf.pad(x, [
            [0, 0],
            [0, 11],
            [0, 3],
            [0, 0],
          ]),
          { training: false },
        )
        .slice([0, 0, 0, 0], [1, 37, 29, 4]),
    );
    const cropped = wholeImageLogits(model, x, true);
    expect(cropped.shape).toEqual([1, 37, 29, 4]);
    expect(Array.from(cropped.dataSync())).toEqual(Array.from(padded.dataSync()));
    // 37x29 is not a multiple of 16: padding changes the logits.
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(cropped, plain))).dataSync()[0] as number);
    expect(diff).toBeGreaterThan(1e-3);
    // predictScores follows the option.
    const linear = createHead({ kind: 'linear' }, 4);
    const scoresPadded = await predictScores(tfjsEngine(model), linear, randomImage(37, 29, 1), 37, 29, { padToStride: true });
    expect(Array.from(scoresPadded.dataSync())).toEqual(Array.from(padded.dataSync()));
    const x32 = tf.tensor4d(randomImage(32, 48, 2), [1, 32, 48, 3]);
    const direct = tf.tidy(() => model.forward(x32, { training: false }));
    expect(Array.from(wholeImageLogits(model, x32, true).dataSync())).toEqual(Array.from(direct.dataSync()));
    tf.dispose([x, plain, whole, padded, cropped, scoresPadded, x32, direct]);
  });

  it('predicts argmax of the logits at one scale, for every head', async () => {
    const [h, w] = [37, 29];
    const image = randomImage(h, w, 3);
    const logits = tf.tidy(() => model.forward(tf.tensor4d(image, [1, h, w, 3]), { training: false }));
    const expected = Array.from(tf.tidy(() => tf.argMax(logits, 3)).dataSync());
    for (const spec of [
      { kind: 'softmax' } as const,
      { kind: 'egb', boost: 'exp', alpha: 0.25, beta: 0 } as const,
      { kind: 'linear' } as const,
    ]) {
      const mask = await predictMask(tfjsEngine(model), createHead(spec, 4), image, h, w);
      expect(mask).toBeInstanceOf(Uint8Array);
      expect(mask.length).toBe(h * w);
      expect(Array.from(mask)).toEqual(expected);
    }
    expect(new Set(expected).size).toBeGreaterThan(1);
    logits.dispose();
  });

  it('averages head scores over scales and flips, at the image size', async () => {
    const [h, w] = [24, 20];
    const image = randomImage(h, w, 4);
    const head = createHead({ kind: 'softmax' }, 4);
    const got = await predictScores(tfjsEngine(model), head, image, h, w, { scales: [0.5, 1.25], flip: true });
    const expected = tf.tidy(() => {
      const x = tf.tensor4d(image, [1, h, w, 3]);
      const parts: tf.Tensor4D[] = [];
      for (const s of [0.5, 1.25]) {
        const scaled = resizeBilinear(x, [Math.round(h * s), Math.round(w * s)]);
        parts.push(head.scores(resizeBilinear(model.forward(scaled, { training: false }), [h, w])));
        const mirrored = tf.reverse(model.forward(tf.reverse(scaled, 2) as tf.Tensor4D, { training: false }), 2) as tf.Tensor4D;
        parts.push(head.scores(resizeBilinear(mirrored, [h, w])));
      }
      return tf.div(tf.addN(parts), 4).squeeze([0]);
    });
    expect(got.shape).toEqual([h, w, 4]);
    const a = got.dataSync();
    const b = expected.dataSync();
    for (let i = 0; i < a.length; i++) expect(a[i]).toBeCloseTo(b[i] as number, 5);
    // Softmax probabilities average to a distribution.
    expect(tf.tidy(() => tf.sum(got, 2).sub(1).abs().max().dataSync()[0]) as number).toBeLessThan(1e-5);
    tf.dispose([got, expected]);
  });

  it('leaks no tensor and accepts a tensor image', async () => {
    const head = createHead({ kind: 'egb', boost: 'exp', alpha: 0.25, beta: 0 }, 4);
    const image = tf.tensor3d(randomImage(30, 26, 5), [30, 26, 3]);
    await predictMask(tfjsEngine(model), head, image, 30, 26, { scales: [0.75, 1], flip: true });
    const before = tf.memory().numTensors;
    const mask = await predictMask(tfjsEngine(model), head, image, 30, 26, { scales: [0.75, 1], flip: true });
    expect(mask.length).toBe(30 * 26);
    expect(tf.memory().numTensors).toBe(before);
    expect(image.isDisposed).toBe(false);
    image.dispose();
  });

  it('refuses wrong image sizes and scales', async () => {
    const head = createHead({ kind: 'softmax' }, 4);
    await expect(predictMask(tfjsEngine(model), head, new Float32Array(10), 4, 4)).rejects.toThrow(SegError);
    await expect(predictMask(tfjsEngine(model), head, randomImage(8, 8, 1), 8, 8, { scales: [] })).rejects.toThrow(/--scales/);
  });
});
