import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../../src/engine/tf.js';
import { createModel } from '../../../src/segmentation/model.js';
import { estimateInferenceMemory } from '../../../src/segmentation/memory-estimate.js';
import { wholeImageLogits } from '../../../src/segmentation/model-logits.js';
import { tfjsEngine, TFJS_CAPABILITIES } from '../../../src/inference/engines/tfjs.js';

const config = { backbone: 'resnet18', outputStride: 16, width: 0.125, numClasses: 3, multiGrid: false } as const;

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('tfjs engine', () => {
  it("runs the model's whole-image logits and estimates memory as the model's spec does, without the config", async () => {
    const model = createModel(config, 1);
    const engine = tfjsEngine(model);
    expect(engine.kind).toBe('tfjs');
    expect(engine.capabilities).toBe(TFJS_CAPABILITIES);
    expect(engine.capabilities.onDeviceCounting).toBe(true);
    expect([engine.numClasses, engine.outputStride, engine.padsToStride]).toEqual([3, 16, false]);
    expect('config' in engine).toBe(false);
    for (const [h, w, n] of [
      [37, 29, 1],
      [64, 64, 2],
      [513, 513, 1],
    ] as const) {
      expect(engine.estimateMemory(h, w, n)).toBe(estimateInferenceMemory(config, h, w, n).bytes);
    }
    const x = tf.randomNormal([1, 21, 19, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
    const got = await engine.logits(x);
    const expected = wholeImageLogits(model, x);
    expect(Array.from(await got.data())).toEqual(Array.from(await expected.data()));
    tf.dispose([x, got, expected]);
    // Without ownsModel the caller keeps the model.
    await engine.dispose();
    expect(() => tf.tidy(() => model.forward(tf.zeros([1, 16, 16, 3]) as tf.Tensor4D, { training: false }))).not.toThrow();
    await tfjsEngine(model, { ownsModel: true }).dispose();
    expect(() => tf.tidy(() => model.forward(tf.zeros([1, 16, 16, 3]) as tf.Tensor4D, { training: false }))).toThrow(/disposed/);
  });
});
