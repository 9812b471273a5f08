import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { trainFlat as train } from './tiny-run.js';
import { tf } from '../../src/backend/tf.js';
import { SegError } from '../../src/core/errors.js';
import { makeSynthDataset } from '../../src/dataset-makers/synth-dataset.js';
import type { FlatTrainConfig } from '../../src/training/train-config.js';
import { readTrace } from '../../src/training/run-log.js';
import { runCheckpointDir } from '../../src/checkpoint/run-layout.js';
import { NonFiniteError } from '../../src/training/non-finite-error.js';
import { runWeights, tinyRunSettings } from './tiny-run.js';

let root: string;
let data: string;

function config(out: string, overrides: Partial<FlatTrainConfig> = {}): FlatTrainConfig {
  return tinyRunSettings(data, root, out, { evalLimit: 2, seed: 3, ...overrides });
}

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
  root = mkdtempSync(join(tmpdir(), 'seg-trainer-'));
  data = (await makeSynthDataset({ out: join(root, 'synth'), train: 6, val: 2, size: 40, seed: 5 })).root;
});

describe('train', () => {
  it('writes a trace and a checkpoint, and 5 + resume 5 iterations equal 10 straight', async () => {
    const straight = await train(config('straight', { head: 'egb' }));
    straight.model.dispose();
    expect(straight.iteration).toBe(10);
    const rows = readTrace(join(root, 'straight'));
    expect(rows.filter((r) => r.type === 'train').map((r) => r.iter)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(rows.filter((r) => r.type === 'eval')).toHaveLength(1);
    // camelCase keys only (mIoU, aAcc as metric names).
    const text = readFileSync(join(root, 'straight', 'trace.jsonl'), 'utf8');
    expect(text).not.toMatch(/"\w+_\w+":/);
    expect(Object.keys(rows.find((r) => r.type === 'eval') ?? {})).toEqual([
      'type',
      'iter',
      'wallSeconds',
      'mIoU',
      'aAcc',
      'classIoU',
      'images',
      'confusionMatrix',
    ]);

    // Stop after 5 iterations (abort), then resume the same run for the rest.
    const controller = new AbortController();
    const first = await train(config('resumed', { head: 'egb' }), {
      signal: controller.signal,
      onStep: (s) => {
        if (s.iteration === 5) controller.abort();
      },
    });
    first.model.dispose();
    expect(first.interrupted).toBe(true);
    expect(first.iteration).toBe(5);
    const second = await train(config('resumed', { head: 'egb' }), { resume: true });
    second.model.dispose();
    expect(second.iteration).toBe(10);

    const a = await runWeights(join(root, 'straight'));
    const b = await runWeights(join(root, 'resumed'));
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (const [name, values] of a) expect(b.get(name), name).toEqual(values);
    const resumedRows = readTrace(join(root, 'resumed')).filter((r) => r.type === 'train');
    expect(resumedRows.map((r) => r.iter)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // Same batches and weights, so the same losses.
    const straightLoss = rows.filter((r) => r.type === 'train').map((r) => (r.type === 'train' ? r.loss : 0));
    expect(resumedRows.map((r) => (r.type === 'train' ? r.loss : 0))).toEqual(straightLoss);
  });

  it('refuses to overwrite an existing run without --resume', async () => {
    const run = await train(config('once', { iters: 2 }));
    run.model.dispose();
    await expect(train(config('once', { iters: 2 }))).rejects.toThrow(/already holds a run; continue it with `resume`/);
  });

  it('stops on a non-finite loss naming the iteration and keeps the last checkpoint', async () => {
    const cfg = config('diverge', { iters: 20, lr: 1e30, saveEvery: 1, momentum: 0 });
    let error: unknown;
    try {
      (await train(cfg)).model.dispose();
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(SegError);
    expect(error).toBeInstanceOf(NonFiniteError);
    const message = (error as Error).message;
    const failedAt = Number(/iteration (\d+): the loss is/.exec(message)?.[1]);
    expect(failedAt).toBeGreaterThan(1);
    expect((error as NonFiniteError).iteration).toBe(failedAt);
    const saved = JSON.parse(readFileSync(join(runCheckpointDir(cfg.out), 'config.json'), 'utf8')) as { iteration: number };
    expect(saved.iteration).toBe(failedAt - 1);
  });

  it('trains each head: the loss falls on the synthetic set', async () => {
    for (const head of ['softmax', 'egb', 'egb:pow3', 'linear']) {
      const run = await train(config(`fall-${head.replace(':', '-')}`, { head, iters: 12, lr: 0.02 }));
      run.model.dispose();
      const losses = readTrace(run.out).flatMap((r) => (r.type === 'train' ? [r.loss] : []));
      const early = (losses[0] as number) + (losses[1] as number);
      const late = (losses[10] as number) + (losses[11] as number);
      expect(late, head).toBeLessThan(early);
      expect(existsSync(join(runCheckpointDir(run.out), 'model.safetensors'))).toBe(true);
    }
  });
});
