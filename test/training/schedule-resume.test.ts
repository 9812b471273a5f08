import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { trainFlat as train } from './tiny-run.js';
import { tf } from '../../src/backend/tf.js';
import { makeSynthDataset } from '../../src/dataset-makers/synth-dataset.js';
import type { FlatTrainConfig } from '../../src/training/train-config.js';
import { runWeights, tinyRunSettings } from './tiny-run.js';
import { readTrace } from '../../src/training/run-log.js';
import { scheduledLearningRate } from '../../src/training/lr-schedule.js';
import { readEventFile } from '../core/fixtures/tfevents.js';

let root: string;
let data: string;

function config(out: string, overrides: Partial<FlatTrainConfig> = {}): FlatTrainConfig {
  return tinyRunSettings(data, root, out, { iters: 6, seed: 4, warmupIters: 3, warmupRatio: 0.1, photometric: true, ...overrides });
}

function trainRows(run: string): { iter: number; lr: number; loss: number }[] {
  return readTrace(run).flatMap((r) => (r.type === 'train' ? [{ iter: r.iter, lr: r.lr, loss: r.loss }] : []));
}

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
  root = mkdtempSync(join(tmpdir(), 'seg-schedule-'));
  // 28 px images under a 32 px crop: the photometric pipeline pads after distorting.
  data = (await makeSynthDataset({ out: join(root, 'synth'), train: 5, val: 1, size: 28, seed: 2 })).root;
});

describe('warmup and photometric distortion in training', () => {
  it('follow the schedule and resume exactly: 2 + resume 4 equals 6 straight', async () => {
    (await train(config('straight'))).model.dispose();
    const rows = trainRows(join(root, 'straight'));
    expect(rows.map((r) => r.lr)).toEqual(Array.from({ length: 6 }, (_, i) => scheduledLearningRate(config('x'), i)));
    expect(rows[0]?.lr).toBeCloseTo(0.001, 12);
    expect(rows[2]?.lr).toBeCloseTo(0.01, 12);

    const tb = join(root, 'tb');
    const controller = new AbortController();
    const first = await train(config('resumed', { tensorboard: tb }), {
      signal: controller.signal,
      onStep: (s) => {
        if (s.iteration === 2) controller.abort();
      },
    });
    first.model.dispose();
    expect(first.iteration).toBe(2);
    (
      await train(config('resumed', { tensorboard: tb, evalEvery: 6 }), { resume: true, given: ['tensorboard', 'evalEvery'] })
    ).model.dispose();
    expect(trainRows(join(root, 'resumed'))).toEqual(rows);
    // TensorBoard: one file per segment; the resumed one starts with a session start after the checkpoint.
    const files = readdirSync(tb).sort();
    expect(files).toHaveLength(2);
    const segments = files.map((f) => readEventFile(join(tb, f)));
    const scalars = segments.flat().flatMap((e) => (e.summary?.value ?? []).map((v) => ({ step: e.step, ...v })));
    const lrs = scalars.filter((v) => v.tag === 'train/lr');
    expect(lrs.map((v) => v.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(lrs.map((v) => v.simple_value)).toEqual(rows.map((r) => Math.fround(r.lr)));
    expect(segments[1]?.[1]).toMatchObject({ step: 3, session_log: { status: 'START' } });
    const tags = new Set(scalars.filter((v) => v.step === 6).map((v) => v.tag));
    for (const tag of ['train/loss', 'train/acc', 'val/mIoU', 'val/aAcc', 'val/mAcc', 'val/fwIoU', 'val/IoU/background']) {
      expect(tags.has(tag), tag).toBe(true);
    }
    const a = await runWeights(join(root, 'straight'));
    const b = await runWeights(join(root, 'resumed'));
    for (const [name, values] of a) expect(b.get(name), name).toEqual(values);
  });

  it('photometric distortion changes the batches (and so the losses) of the same seed', async () => {
    (await train(config('plain', { photometric: false, iters: 2, warmupIters: 0 }))).model.dispose();
    (await train(config('distorted', { iters: 2, warmupIters: 0 }))).model.dispose();
    const plain = trainRows(join(root, 'plain'));
    const distorted = trainRows(join(root, 'distorted'));
    expect(distorted.map((r) => r.lr)).toEqual(plain.map((r) => r.lr));
    expect(distorted.map((r) => r.loss)).not.toEqual(plain.map((r) => r.loss));
  });
});
