import { tfjsEngine } from '../../src/inference/engines/tfjs.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { engineLogits, predictMask, predictScores, slideScores } from '../../src/inference/inference.js';
import { wholeImageLogits } from '../../src/segmentation/model-logits.js';
import { createHead } from '../../src/heads/head.js';
import { exportedOnnxRuntimeEngine, onnxRuntimeEngine } from '../../src/inference/engines/onnxruntime.js';
import { exportOnnx } from '../../src/export/onnx-export.js';
import type { ModelConfig } from '../../src/segmentation/deeplab-spec.js';
import { IMAGENET_NORMALIZATION } from '../../src/data-loading/normalize.js';
import { argmaxAgreement, onnxRuntimeMissing, randomImages, randomisedModel, relativeL2 } from './onnx-fixtures.js';

const missing = await onnxRuntimeMissing();
if (missing !== null) console.warn(`skipping onnxruntime parity tests: ${missing}`);

const CASES: { name: string; config: ModelConfig }[] = [
  {
    name: 'resnet18 (basic blocks) OS16',
    config: { backbone: 'resnet18', outputStride: 16, width: 0.25, numClasses: 5, multiGrid: false },
  },
  { name: 'resnet18 (basic blocks) OS8', config: { backbone: 'resnet18', outputStride: 8, width: 0.25, numClasses: 5, multiGrid: false } },
  { name: 'resnet50 (bottlenecks) OS16', config: { backbone: 'resnet50', outputStride: 16, width: 0.25, numClasses: 5, multiGrid: true } },
  { name: 'resnet50 (bottlenecks) OS8', config: { backbone: 'resnet50', outputStride: 8, width: 0.25, numClasses: 5, multiGrid: false } },
  {
    name: 'resnet18 DeepLabV3+ (aspp-plus) OS16',
    config: { backbone: 'resnet18', outputStride: 16, width: 0.25, numClasses: 5, multiGrid: false, decoder: 'aspp-plus' },
  },
  {
    name: 'resnet18 DeepLabV3+ (aspp-plus) OS8',
    config: { backbone: 'resnet18', outputStride: 8, width: 0.25, numClasses: 5, multiGrid: false, decoder: 'aspp-plus' },
  },
];

/** Two sizes: one odd and not a multiple of any output stride, one a multiple of 16. */
const SIZES: [number, number][] = [
  [37, 53],
  [64, 48],
];

describe.skipIf(missing !== null)('onnxruntime vs tfjs forward', () => {
  beforeAll(async () => {
    await tf.setBackend('wasm');
    await tf.ready();
  });
  afterAll(() => tf.disposeVariables());

  it('multi-scale + flip scores match tfjs, and the engine path leaks no tensors', async () => {
    const config = CASES[0]?.config as ModelConfig;
    const model = randomisedModel(config, 4);
    const head = createHead({ kind: 'softmax' }, 5);
    const engine = await exportedOnnxRuntimeEngine(model, {
      headSpec: { kind: 'softmax' },
      classNames: ['a', 'b', 'c', 'd', 'e'],
      normalization: IMAGENET_NORMALIZATION,
    });
    try {
      const [h, w] = [33, 45];
      const image = randomImages(1, h, w, 21);
      const options = { scales: [0.75, 1.25], flip: true };
      const expected = await predictScores(tfjsEngine(model), head, image, h, w, options);
      const actual = await predictScores(engine, head, image, h, w, options);
      expect(actual.shape).toEqual([h, w, 5]);
      expect(relativeL2(await actual.data(), await expected.data())).toBeLessThanOrEqual(1e-5);
      tf.dispose([expected, actual]);
      await predictMask(engine, head, image, h, w, options);
      const before = tf.memory().numTensors;
      for (let i = 0; i < 2; i++) await predictMask(engine, head, image, h, w, options);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      await engine.dispose();
      model.dispose();
    }
  });

  it('sliding windows with scales and flip give the same scores on onnxruntime as on tfjs', async () => {
    const config = CASES[0]?.config as ModelConfig;
    const model = randomisedModel(config, 6);
    const head = createHead({ kind: 'softmax' }, 5);
    const engine = await exportedOnnxRuntimeEngine(model, {
      headSpec: { kind: 'softmax' },
      classNames: ['a', 'b', 'c', 'd', 'e'],
      normalization: IMAGENET_NORMALIZATION,
    });
    try {
      const [h, w] = [41, 70];
      const image = randomImages(1, h, w, 5);
      const options = { scales: [1, 1.5], flip: true, mode: 'slide' as const, window: 33, overlap: 1 / 3 };
      const expected = await slideScores(tfjsEngine(model), head, image, h, w, options);
      const actual = await slideScores(engine, head, image, h, w, options);
      expect(relativeL2(actual, expected)).toBeLessThanOrEqual(1e-5);
      expect(argmaxAgreement(actual, expected, 5)).toBeGreaterThanOrEqual(0.9999);
      const before = tf.memory().numTensors;
      await predictMask(engine, head, image, h, w, options);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      await engine.dispose();
      model.dispose();
    }
  });

  it('pads to the stride on request: in JS before an unpadded engine, in the graph of a file exported with padToStride', async () => {
    const config = CASES[3]?.config as ModelConfig;
    const model = randomisedModel(config, 8);
    const common = { headSpec: { kind: 'linear' } as const, classNames: ['a', 'b', 'c', 'd', 'e'], normalization: IMAGENET_NORMALIZATION };
    const plainEngine = await exportedOnnxRuntimeEngine(model, common);
    const paddedFile = await exportOnnx(model, { ...common, padToStride: true });
    const paddedEngine = await onnxRuntimeEngine(paddedFile, 'padded.onnx');
    try {
      expect(plainEngine.padsToStride).toBe(false);
      expect(paddedEngine.padsToStride).toBe(true);
      const [h, w] = [37, 53];
      const x = tf.tensor4d(randomImages(1, h, w, 9), [1, h, w, 3]);
      const padded = wholeImageLogits(model, x, true);
      const unpadded = wholeImageLogits(model, x);
      const e = await padded.data();
      for (const actual of [
        await engineLogits(plainEngine, x, true),
        await paddedEngine.logits(x),
        await engineLogits(paddedEngine, x, true),
      ]) {
        expect(actual.shape).toEqual([1, h, w, 5]);
        expect(relativeL2(await actual.data(), e)).toBeLessThanOrEqual(1e-5);
        actual.dispose();
      }
      // The padded logits are not the unpadded ones (37x53 is no multiple of 8).
      expect(relativeL2(await unpadded.data(), e)).toBeGreaterThan(1e-3);
      // And through the whole inference path, with scales and flip.
      const head = createHead({ kind: 'linear' }, 5);
      const options = { scales: [0.75, 1], flip: true, padToStride: true };
      const expected = await predictScores(tfjsEngine(model), head, randomImages(1, h, w, 9), h, w, options);
      const got = await predictScores(plainEngine, head, randomImages(1, h, w, 9), h, w, options);
      expect(relativeL2(await got.data(), await expected.data())).toBeLessThanOrEqual(1e-5);
      tf.dispose([x, padded, unpadded, expected, got]);
    } finally {
      await plainEngine.dispose();
      await paddedEngine.dispose();
      model.dispose();
    }
  });

  for (const { name, config } of CASES) {
    it(`${name}: same logits at ${SIZES.map((s) => s.join('x')).join(' and ')}`, async () => {
      const model = randomisedModel(config, 3);
      const engine = await exportedOnnxRuntimeEngine(model, {
        headSpec: { kind: 'softmax' },
        classNames: ['a', 'b', 'c', 'd', 'e'],
        normalization: IMAGENET_NORMALIZATION,
      });
      try {
        for (const [h, w] of SIZES) {
          const x = tf.tensor4d(randomImages(2, h, w, h * w), [2, h, w, 3]);
          const expected = wholeImageLogits(model, x);
          const actual = await engine.logits(x);
          expect(actual.shape).toEqual([2, h, w, 5]);
          const a = await actual.data();
          const e = await expected.data();
          const rel = relativeL2(a, e);
          const agree = argmaxAgreement(a, e, 5);
          console.log(`${name} ${h}x${w}: relative L2 ${rel.toExponential(2)}, argmax agreement ${agree}`);
          expect(rel).toBeLessThanOrEqual(1e-5);
          expect(agree).toBeGreaterThanOrEqual(0.9999);
          tf.dispose([x, expected, actual]);
        }
      } finally {
        await engine.dispose();
        model.dispose();
      }
    });
  }
});
