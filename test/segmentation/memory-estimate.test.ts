import { describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf.js';
import { SegError } from '../../src/core/errors.js';
import { createModel } from '../../src/segmentation/model.js';
import { createHead } from '../../src/heads/head.js';
import { MomentumSgd } from '../../src/training/sgd.js';
import { trainStep } from '../../src/training/train-step.js';
import { wholeImageLogits } from '../../src/segmentation/model-logits.js';
import {
  backendMemoryLimit,
  checkTrainingMemory,
  estimateInferenceMemory,
  estimateTrainingMemory,
  settingsThatFit,
} from '../../src/segmentation/memory-estimate.js';
import type { ModelConfig } from '../../src/segmentation/deeplab-spec.js';

const GIB = 2 ** 30;
const resnet101: ModelConfig = { backbone: 'resnet101', outputStride: 16, width: 1, numClasses: 21, multiGrid: false };

describe('memory estimate', () => {
  it.each([
    ['', false],
    [' (with the aux classifier and its loss)', true],
  ])('bounds the measured peak of a training step and of inference on wasm, without overshooting much%s', async (_name, aux) => {
    await tf.setBackend('wasm');
    await tf.ready();
    const config: ModelConfig = {
      backbone: 'resnet18',
      outputStride: 16,
      width: 0.25,
      numClasses: 21,
      multiGrid: false,
      ...(aux ? { auxClassifier: true as const } : {}),
    };
    const [n, crop] = [2, 64];
    // tf.profile's peak counts every live tensor: anything an earlier test left is not ours.
    const leftover = tf.memory().numBytes;
    const model = createModel(config, 1);
    // Inference first, with nothing but the weights alive (the peak counts every live tensor).
    const x = tf.zeros([1, 96, 96, 3]) as tf.Tensor4D;
    const infer = await tf.profile(() => {
      wholeImageLogits(model, x).dispose();
    });
    x.dispose();
    const inferEstimate = estimateInferenceMemory(config, 96, 96).bytes;
    expect(inferEstimate).toBeGreaterThanOrEqual(infer.peakBytes - leftover);
    expect(inferEstimate).toBeLessThan(1.5 * (infer.peakBytes - leftover));
    const head = createHead({ kind: 'softmax' }, 21);
    const sgd = new MomentumSgd(model.params, { momentum: 0.9, weightDecay: 1e-4 });
    const batch = {
      ids: ['a', 'b'],
      epoch: 0,
      shape: [n, crop, crop] as [number, number, number],
      images: new Float32Array(n * crop * crop * 3).fill(0.5),
      labels: new Int32Array(n * crop * crop).fill(1),
    };
    const train = await tf.profile(async () => {
      await trainStep(model, head, sgd, batch, { lr: 0.001, freezeBn: false, ...(aux ? { auxLoss: 0.5 } : {}) });
      return [];
    });
    sgd.dispose();
    model.dispose();
    const estimate = estimateTrainingMemory(config, n, crop).bytes;
    expect(estimate).toBeGreaterThanOrEqual(train.peakBytes - leftover);
    expect(estimate).toBeLessThan(1.5 * (train.peakBytes - leftover));
    if (aux) {
      const plain = { ...config, auxClassifier: undefined };
      expect(estimate).toBeGreaterThan(estimateTrainingMemory(plain, n, crop).bytes);
      // Inference does not run the aux classifier: only its weights count.
      const inferPlain = estimateInferenceMemory(plain, 96, 96);
      expect(estimateInferenceMemory(config, 96, 96).activationBytes).toBe(inferPlain.activationBytes);
    }
  });

  it('grows with batch and crop, and the defaults do not fit wasm', () => {
    const a = estimateTrainingMemory(resnet101, 2, 321);
    expect(estimateTrainingMemory(resnet101, 4, 321).activationBytes).toBeCloseTo(2 * a.activationBytes, 0);
    expect(estimateTrainingMemory(resnet101, 2, 513).bytes).toBeGreaterThan(a.bytes);
    expect(estimateTrainingMemory(resnet101, 8, 513).bytes).toBeGreaterThan(4 * GIB);
    // Observed on wasm: ResNet-101 at batch 4, crop 321 fails ('memory access out of bounds').
    expect(estimateTrainingMemory(resnet101, 4, 321).bytes).toBeGreaterThan(backendMemoryLimit('wasm').bytes as number);
  });

  it('stops training that does not fit with the estimate, the limit and settings that fit', () => {
    const limit = backendMemoryLimit('wasm');
    let caught: unknown;
    try {
      checkTrainingMemory({ config: resnet101, batch: 8, crop: 513 }, 'wasm');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(SegError);
    const message = (caught as SegError).message;
    expect(message).toMatch(/needs about \d+\.\d GiB/);
    expect(message).toContain('4 GiB of linear memory');
    expect(message).toMatch(/Settings that fit: .*--width 0\.\d+/);
    expect(message).toContain('GPU backend');
    for (const setting of settingsThatFit(
      { config: { ...resnet101, backbone: 'resnet18', width: 0.25 }, batch: 16, crop: 513 },
      limit.bytes as number,
    )) {
      const flags = setting.split(' ');
      const value = (flag: string): string | undefined => {
        const i = flags.indexOf(flag);
        return i < 0 ? undefined : flags[i + 1];
      };
      const batch = Number(value('--batch') ?? 16);
      const crop = Number(value('--crop') ?? 513);
      const width = Number(value('--width') ?? 0.25);
      expect(estimateTrainingMemory({ ...resnet101, backbone: 'resnet18', width }, batch, crop).bytes).toBeLessThanOrEqual(
        limit.bytes as number,
      );
    }
    // A small model passes; a backend without a known limit never stops.
    expect(
      checkTrainingMemory({ config: { ...resnet101, backbone: 'resnet18', width: 0.25 }, batch: 8, crop: 321 }, 'wasm').bytes,
    ).toBeGreaterThan(0);
    expect(checkTrainingMemory({ config: resnet101, batch: 8, crop: 513 }, 'tensorflow').bytes).toBeGreaterThan(4 * GIB);
    expect(backendMemoryLimit('cpu', 8 * GIB).bytes).toBeCloseTo(6.4 * GIB, 0);
    expect(() => checkTrainingMemory({ config: resnet101, batch: 8, crop: 513 }, 'cpu', backendMemoryLimit('cpu', 8 * GIB))).toThrow(
      /cpu backend/,
    );
  });
});
