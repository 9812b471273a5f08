/**
 * Whole training runs with captured steps on the real webgpu backend (lavapipe in CI): a run
 * that evaluates and saves in the middle ends with the weights of an eager run, and a run
 * stopped while steps overlap (as SIGTERM stops it) and resumed ends as a straight one.
 * Skipped, with the reason, where no WebGPU adapter can be had.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { trainFlat as train } from './tiny-run.js';
import { selectBackend } from '../../src/backend/select-backend.js';
import { probeWebgpu } from '../../src/backend/webgpu.js';
import { DEFAULT_TRAIN_CONFIG, type FlatTrainConfig } from '../../src/training/train-config.js';
import { readTrace } from '../../src/training/run-log.js';
import { makeSynthDataset } from '../../src/dataset-makers/synth-dataset.js';

const probe = await probeWebgpu();
const skipReason =
  probe.adapter === undefined ? (process.env['SEG_LAVAPIPE_UNAVAILABLE'] ?? probe.missing ?? 'no WebGPU adapter') : undefined;
if (skipReason !== undefined) console.log(`captured-run tests skipped: ${skipReason}`);

const SIZE = 32;

describe.skipIf(skipReason !== undefined)(`whole runs with captured steps on ${probe.adapter?.description ?? 'no adapter'}`, () => {
  let root: string;
  let data: string;
  beforeAll(async () => {
    await selectBackend('webgpu');
    root = mkdtempSync(join(tmpdir(), 'seg-capture-'));
    data = (await makeSynthDataset({ out: join(root, 'synth'), train: 6, val: 2, size: 40, seed: 5 })).root;
    const captured = await train(config('captured'));
    captured.model.dispose();
  });
  const config = (out: string, overrides: Partial<FlatTrainConfig> = {}): FlatTrainConfig => ({
    ...DEFAULT_TRAIN_CONFIG,
    data,
    out: join(root, out),
    head: 'egb',
    backbone: 'resnet18',
    width: 0.125,
    crop: SIZE,
    batch: 2,
    iters: 6,
    lr: 0.02,
    evalEvery: 3,
    saveEvery: 0,
    evalLimit: 2,
    logEvery: 1,
    seed: 3,
    ...overrides,
  });
  const files = (out: string): Buffer[] =>
    ['model.safetensors', 'optimizer.safetensors'].map((f) => readFileSync(join(root, out, 'checkpoint', f)));

  const losses = (out: string): number[] => readTrace(join(root, out)).flatMap((r) => (r.type === 'train' ? [r.loss] : []));
  it('a run that evaluates and saves in the middle ends with the weights of an eager run', async () => {
    const eager = await train(config('eager'), { capture: false });
    eager.model.dispose();
    expect(readTrace(join(root, 'captured')).filter((r) => r.type === 'capture')).toEqual([
      { type: 'capture', iter: 3, mode: 'replay', shape: [2, SIZE, SIZE] },
    ]);
    expect(losses('captured')).toEqual(losses('eager'));
    expect(files('captured')).toEqual(files('eager'));
  });

  it('a run stopped (as SIGTERM stops it, a checkpoint saved) while steps overlap, then resumed, ends as a straight one', async () => {
    const controller = new AbortController();
    const first = await train(config('resumed'), {
      signal: controller.signal,
      onStep: (s) => {
        if (s.iteration === 4) controller.abort();
      },
    });
    first.model.dispose();
    expect(first.interrupted).toBe(true);
    expect(first.iteration).toBeLessThan(6);
    const second = await train(config('resumed'), { resume: true });
    second.model.dispose();
    expect(losses('resumed')).toEqual(losses('captured'));
    expect(files('resumed')).toEqual(files('captured'));
  });
});
