import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { trainFlat as train } from './tiny-run.js';
import { tf } from '../../src/backend/tf.js';
import { makeSynthDataset } from '../../src/dataset-makers/synth-dataset.js';
import { DEFAULT_TRAIN_CONFIG, type FlatTrainConfig } from '../../src/training/train-config.js';
import type { TrainHook } from '../../src/training/hooks/train-hook.js';
import { runCheckpointDir } from '../../src/checkpoint/run-layout.js';

let root: string;
let data: string;

function config(out: string, overrides: Partial<FlatTrainConfig> = {}): FlatTrainConfig {
  return {
    ...DEFAULT_TRAIN_CONFIG,
    data,
    out: join(root, out),
    backbone: 'resnet18',
    width: 0.125,
    crop: 32,
    batch: 2,
    iters: 4,
    lr: 0.01,
    saveEvery: 0,
    evalEvery: 2,
    evalLimit: 1,
    logEvery: 1,
    seed: 1,
    ...overrides,
  };
}

function savedIteration(run: string): number {
  return (JSON.parse(readFileSync(join(runCheckpointDir(run), 'config.json'), 'utf8')) as { iteration: number }).iteration;
}

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
  root = mkdtempSync(join(tmpdir(), 'seg-hooks-'));
  data = (await makeSynthDataset({ out: join(root, 'synth'), train: 4, val: 1, size: 36, seed: 2 })).root;
});

describe('train hooks', () => {
  it('calls each hook point in order, and the checkpoint is saved before each validation', async () => {
    const calls: string[] = [];
    const out = join(root, 'order');
    const recorder: TrainHook = {
      beforeRun: (run) => void calls.push(`beforeRun@${run.state.iteration}`),
      beforeTrainIter: (run) => void calls.push(`before@${run.state.iteration}`),
      afterTrainIter: (_run, step) => void calls.push(`after@${step.iteration}`),
      afterVal: (run, result) => {
        // Saved before validating: a failing evaluation cannot lose the run.
        calls.push(`val@${run.state.iteration} saved@${savedIteration(out)} images=${result.images}`);
      },
      afterRun: (run) => void calls.push(`afterRun@${run.state.iteration}`),
    };
    const result = await train(config('order'), { hooks: [recorder] });
    result.model.dispose();
    expect(calls).toEqual([
      'beforeRun@0',
      'before@0',
      'after@1',
      'before@1',
      'after@2',
      'val@2 saved@2 images=1',
      'before@2',
      'after@3',
      'before@3',
      'after@4',
      'val@4 saved@4 images=1',
      'afterRun@4',
    ]);
    // The validation's metrics are recorded in the checkpoint saved just before it.
    const saved = JSON.parse(readFileSync(join(runCheckpointDir(out), 'config.json'), 'utf8')) as { metrics: { mIoU: number } | null };
    expect(saved.metrics?.mIoU).toBe(result.metrics?.mIoU);
  });

  it('a hook that stops the loop gets a saved checkpoint at that iteration', async () => {
    const stopper: TrainHook = {
      beforeTrainIter: (run) => {
        if (run.state.iteration === 3) run.stopReason = 'interrupted';
      },
    };
    const result = await train(config('stopped', { evalEvery: 0, iters: 10 }), { hooks: [stopper] });
    result.model.dispose();
    expect(result.interrupted).toBe(true);
    expect(savedIteration(join(root, 'stopped'))).toBe(3);
  });
});
