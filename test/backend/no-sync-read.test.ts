import { tfjsEngine } from '../../src/inference/engines/tfjs.js';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trainFlat as train } from '../training/tiny-run.js';
import { tf } from '../../src/backend/tf.js';
import { usesHostLoops } from '../../src/backend/rearrange.js';
import { backendStillWorks } from '../../src/backend/backend-health.js';
import { makeSynthDataset } from '../../src/dataset-makers/synth-dataset.js';
import { DEFAULT_TRAIN_CONFIG } from '../../src/training/train-config.js';
import { readTrace } from '../../src/training/run-log.js';
import { createHead } from '../../src/heads/head.js';
import { createModel } from '../../src/segmentation/model.js';
import { predictFiles } from '../../src/inference/predict-files.js';
import { evaluateModel } from '../../src/inference/evaluate.js';
import { openDataset } from '../../src/datasets/open-dataset.js';
import { IMAGENET_NORMALIZATION } from '../../src/data-loading/normalize.js';
import { DeviceConfusionMatrix } from '../../src/metrics/confusion-matrix.js';
import { gradientImage, removeTempDirs, tempDir, writeJpegFile } from '../datasets/fixtures.js';
import { NO_SYNC_READ_BACKEND, SyncReadError, registerNoSyncReadBackend } from './no-sync-read-backend.js';

let root: string;

beforeAll(async () => {
  await registerNoSyncReadBackend();
  await tf.setBackend(NO_SYNC_READ_BACKEND);
  await tf.ready();
  root = mkdtempSync(join(tmpdir(), 'seg-nosync-'));
});
afterAll(async () => {
  removeTempDirs();
  await tf.setBackend('cpu');
});

describe(`seg on a backend whose synchronous reads throw (${NO_SYNC_READ_BACKEND})`, () => {
  it('throws on dataSync, arraySync and bufferSync, reads with await data(), and takes the device-side paths', async () => {
    const t = tf.tensor1d([1, 2, 3]);
    expect(() => t.dataSync()).toThrow(SyncReadError);
    expect(() => t.arraySync()).toThrow(SyncReadError);
    expect(() => t.bufferSync()).toThrow(SyncReadError);
    expect(Array.from(await tf.mul(t, 2).data())).toEqual([2, 4, 6]);
    expect(usesHostLoops()).toBe(false);
    // The backend-health check must not count a GPU-like backend as dead for refusing a synchronous read.
    expect(backendStillWorks()).toBe(true);
    t.dispose();
  });

  it('trains (step, evaluation, checkpoint, trace) to the end', async () => {
    const data = (await makeSynthDataset({ out: join(root, 'synth'), train: 4, val: 2, size: 40, seed: 5 })).root;
    const out = join(root, 'run');
    const result = await train({
      ...DEFAULT_TRAIN_CONFIG,
      data,
      out,
      head: 'egb',
      backbone: 'resnet18',
      width: 0.125,
      crop: 32,
      batch: 2,
      iters: 2,
      lr: 0.01,
      saveEvery: 1,
      evalEvery: 1,
      evalLimit: 2,
      logEvery: 1,
      seed: 3,
    });
    result.model.dispose();
    expect(result.iteration).toBe(2);
    expect(Number.isFinite(result.lastLoss)).toBe(true);
    expect(result.metrics?.mIoU).toBeGreaterThanOrEqual(0);
    const rows = readTrace(out);
    expect(rows.filter((r) => r.type === 'train')).toHaveLength(2);
    expect(rows.filter((r) => r.type === 'eval')).toHaveLength(2);
  });

  it('evaluates on the device (one read at the end) with the same counts as the cpu backend', async () => {
    const data = (await makeSynthDataset({ out: join(root, 'synth-eval'), train: 1, val: 3, size: 36, seed: 8 })).root;
    const dataset = openDataset(data);
    await tf.setBackend('cpu');
    const model = createModel(
      { backbone: 'resnet18', outputStride: 16, width: 0.125, numClasses: dataset.classNames.length, multiGrid: false },
      4,
    );
    const head = createHead({ kind: 'softmax' }, dataset.classNames.length);
    const onCpu = await evaluateModel(tfjsEngine(model), head, dataset, 'val', { flip: true });
    await tf.setBackend(NO_SYNC_READ_BACKEND);
    const onDevice = await evaluateModel(tfjsEngine(model), head, dataset, 'val', { flip: true });
    model.dispose();
    expect(onDevice.images).toBe(3);
    expect(Array.from(onDevice.confusion.counts)).toEqual(Array.from(onCpu.confusion.counts));
  });

  it('counts a confusion matrix on the device', async () => {
    const dcm = new DeviceConfusionMatrix(3);
    dcm.update(tf.tensor1d([0, 1, 2, 255, 1], 'int32'), tf.tensor1d([0, 2, 2, 1, 1], 'int32'));
    expect(Array.from((await dcm.read()).counts)).toEqual([1, 0, 0, 0, 1, 1, 0, 0, 1]);
    dcm.dispose();
  });

  it('predicts masks for image files', async () => {
    const dir = tempDir('seg-nosync-predict-');
    await writeJpegFile(join(dir, 'one.jpg'), gradientImage(37, 21));
    const model = createModel({ backbone: 'resnet18', outputStride: 16, width: 0.125, numClasses: 3, multiGrid: false }, 1);
    const result = await predictFiles(tfjsEngine(model), createHead({ kind: 'softmax' }, 3), {
      inputs: [join(dir, 'one.jpg')],
      output: join(dir, 'out'),
      normalization: IMAGENET_NORMALIZATION,
    });
    model.dispose();
    expect(result.failed).toEqual([]);
    expect(readdirSync(join(dir, 'out'))).toEqual(['one.png']);
  });
});
