import { tfjsEngine } from '../../src/inference/engines/tfjs.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf.js';
import { createHead, type Head } from '../../src/heads/head.js';
import { createModel, type SegmentationModel } from '../../src/segmentation/model.js';
import { evaluateModel } from '../../src/inference/evaluate.js';
import { openDataset } from '../../src/datasets/open-dataset.js';
import { gradientImage, removeTempDirs, tempDir, writeVocFixture } from '../datasets/fixtures.js';

let model: SegmentationModel;
let root: string;

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
  model = createModel({ backbone: 'resnet18', outputStride: 16, width: 0.125, numClasses: 2, multiGrid: false }, 1);
  root = tempDir('seg-eval-skip-');
  const label = (w: number, h: number): { width: number; height: number; data: Uint8Array } => ({
    width: w,
    height: h,
    data: new Uint8Array(w * h),
  });
  await writeVocFixture(
    root,
    [
      { id: 'small', image: gradientImage(16, 12), label: label(16, 12) },
      { id: 'big', image: gradientImage(40, 30), label: label(40, 30) },
      { id: 'small2', image: gradientImage(16, 12, 3), label: label(16, 12) },
    ],
    { val: ['small', 'big', 'small2'] },
    ['background', 'thing'],
  );
});
afterAll(() => {
  model.dispose();
  removeTempDirs();
});

/** A head whose scores fail like a wasm out-of-bounds access on images wider than 32 px. */
function failingOnWide(inner: Head): Head {
  return {
    spec: inner.spec,
    numClasses: inner.numClasses,
    lossAndGradient: (l, t) => inner.lossAndGradient(l, t),
    loss: (l, t) => inner.loss(l, t),
    predict: (l) => inner.predict(l),
    scores: (l) => {
      if (l.shape[2] > 32) {
        const err = new Error('memory access out of bounds');
        err.name = 'RuntimeError';
        throw err;
      }
      return inner.scores(l);
    },
  };
}

describe('evaluateModel with skipFailures', () => {
  it('reports and skips an image that fails, scores the rest', async () => {
    const head = failingOnWide(createHead({ kind: 'softmax' }, 2));
    const dataset = openDataset(root);
    const skippedSeen: string[] = [];
    const result = await evaluateModel(tfjsEngine(model), head, dataset, 'val', {
      skipFailures: true,
      onSkip: (s) => skippedSeen.push(s.id),
    });
    expect(result.images).toBe(2);
    expect(result.skipped.map((s) => s.id)).toEqual(['big']);
    expect(result.skipped[0]?.error).toMatch(/out of bounds/);
    expect(skippedSeen).toEqual(['big']);
    expect(result.confusion.total).toBe(2 * 16 * 12);
    // Without skipFailures the failure propagates (training's evaluation must not hide one).
    await expect(evaluateModel(tfjsEngine(model), head, dataset, 'val')).rejects.toThrow(/out of bounds/);
  });
});
