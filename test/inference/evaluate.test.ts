import { tfjsEngine } from '../../src/inference/engines/tfjs.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { evaluateModel, evaluatePredictions } from '../../src/inference/evaluate.js';
import { createModel } from '../../src/segmentation/model.js';
import { createHead } from '../../src/heads/head.js';
import { tf } from '../../src/engine/tf.js';
import { openDataset } from '../../src/datasets/open-dataset.js';
import { writeLabelPng } from '../../src/image/label-png.js';
import { gradientImage, removeTempDirs, tempDir, writeVocFixture } from '../datasets/fixtures.js';

afterAll(removeTempDirs);

const label = (data: number[], width = 3, height = 2): { width: number; height: number; data: Uint8Array } => ({
  width,
  height,
  data: Uint8Array.from(data),
});

async function fixture(): Promise<{ root: string; preds: string }> {
  const root = tempDir('seg-eval-');
  await writeVocFixture(
    join(root, 'voc'),
    [
      { id: 'a', image: gradientImage(3, 2), label: label([0, 0, 1, 1, 2, 255]) },
      { id: 'b', image: gradientImage(3, 2, 9), label: label([2, 2, 0, 255, 255, 1]) },
    ],
    { val: ['a', 'b'] },
    ['bg', 'cat', 'dog'],
  );
  const preds = join(root, 'preds');
  mkdirSync(preds);
  return { root: join(root, 'voc'), preds };
}

describe('evaluatePredictions', () => {
  it('scores mask PNGs against the labels with a hand-computed confusion matrix', async () => {
    const { root, preds } = await fixture();
    // a: labels 0 0 1 1 2 void, predicted 0 1 1 1 2 0 (the void pixel is never scored)
    writeLabelPng(join(preds, 'a.png'), label([0, 1, 1, 1, 2, 0]));
    // b: labels 2 2 0 void void 1, predicted 2 0 0 2 2 1
    writeLabelPng(join(preds, 'b.png'), label([2, 0, 0, 2, 2, 1]));
    const { metrics, images, confusion } = await evaluatePredictions(preds, openDataset(root), 'val');
    expect(images).toBe(2);
    // rows = truth, columns = prediction:
    //   bg:  [2, 1, 0]   cat: [0, 3, 0]   dog: [1, 0, 2]
    expect(Array.from(confusion.counts)).toEqual([2, 1, 0, 0, 3, 0, 1, 0, 2]);
    // IoU bg = 2 / (3 + 3 - 2) = 0.5, cat = 3 / (3 + 4 - 3) = 0.75, dog = 2 / (3 + 2 - 2) = 2/3
    expect(metrics.classes.map((c) => c.iou)).toEqual([0.5, 0.75, expect.closeTo(2 / 3, 12)]);
    expect(metrics.mIoU).toBeCloseTo((0.5 + 0.75 + 2 / 3) / 3, 12);
    expect(metrics.aAcc).toBeCloseTo(7 / 9, 12);
  });

  it('names the id of a missing mask and of a size mismatch', async () => {
    const { root, preds } = await fixture();
    writeLabelPng(join(preds, 'a.png'), label([0, 0, 0, 0, 0, 0]));
    await expect(evaluatePredictions(preds, openDataset(root), 'val')).rejects.toThrow(/1 of 2 ids .* have no mask \(b\)/);
    writeLabelPng(join(preds, 'b.png'), label([0, 0, 0, 0], 2, 2));
    await expect(evaluatePredictions(preds, openDataset(root), 'val')).rejects.toThrow(/mask for id 'b' is 2x2, its label .* is 3x2/);
  });

  it('refuses a mask value outside the classes', async () => {
    const { root, preds } = await fixture();
    writeLabelPng(join(preds, 'a.png'), label([0, 7, 0, 0, 0, 0]));
    writeLabelPng(join(preds, 'b.png'), label([0, 0, 0, 0, 0, 0]));
    await expect(evaluatePredictions(preds, openDataset(root), 'val')).rejects.toThrow(/a.png: mask for id 'a' has value 7/);
  });

  it('refuses a split that lists an id twice (it would be counted twice), naming the lines; also a model evaluation', async () => {
    const { root, preds } = await fixture();
    writeLabelPng(join(preds, 'a.png'), label([0, 1, 1, 1, 2, 0]));
    writeLabelPng(join(preds, 'b.png'), label([2, 0, 0, 2, 2, 1]));
    writeFileSync(join(root, 'ImageSets/Segmentation/val.txt'), 'a\nb\n\na\n');
    const dataset = openDataset(root);
    await expect(evaluatePredictions(preds, dataset, 'val')).rejects.toThrow(
      /val\.txt: id 'a' is listed 2 times \(lines 1, 4\); seg eval scores each image once: remove the repeated lines/,
    );
    await tf.setBackend('cpu');
    const model = createModel({ backbone: 'resnet18', outputStride: 16, width: 0.125, numClasses: 3, multiGrid: false }, 1);
    try {
      await expect(evaluateModel(tfjsEngine(model), createHead({ kind: 'softmax' }, 3), dataset, 'val')).rejects.toThrow(
        /id 'a' is listed 2 times/,
      );
    } finally {
      model.dispose();
    }
  });
});
