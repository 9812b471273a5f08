/** The data.layout setting (--layout) reaches the dataset a run trains on. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf.js';
import { SegError } from '../../src/core/errors.js';
import { makeSynthDataset, SYNTH_CLASSES } from '../../src/dataset-makers/synth-dataset.js';
import { VOC_CLASSES } from '../../src/datasets/classes.js';
import { train } from '../../src/training/trainer.js';
import { nestTrainConfig } from '../../src/training/train-config.js';
import { tinyRunSettings } from './tiny-run.js';

let root: string;
let data: string;

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
  root = mkdtempSync(join(tmpdir(), 'seg-layout-'));
  data = (await makeSynthDataset({ out: join(root, 'synth'), train: 2, val: 1, size: 32, seed: 1 })).root;
});

describe('training with a dataset layout', () => {
  it('auto reads the classes.txt layout; voc reads the same folder with VOC classes', async () => {
    const auto = await train(nestTrainConfig(tinyRunSettings(data, root, 'auto', { iters: 1 })));
    expect(auto.model.config.numClasses).toBe(SYNTH_CLASSES.length);
    auto.model.dispose();
    const voc = await train(nestTrainConfig(tinyRunSettings(data, root, 'voc', { iters: 1, layout: 'voc' })));
    expect(voc.model.config.numClasses).toBe(VOC_CLASSES.length);
    voc.model.dispose();
  });

  it('a layout that does not fit the folder is refused, naming it', async () => {
    await expect(train(nestTrainConfig(tinyRunSettings(data, root, 'sbd', { iters: 1, layout: 'sbd' })))).rejects.toThrow(/sbd/);
    await expect(train(nestTrainConfig(tinyRunSettings(data, root, 'sbd2', { iters: 1, layout: 'sbd' })))).rejects.toBeInstanceOf(SegError);
  });
});
