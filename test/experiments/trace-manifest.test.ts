import { existsSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTrace } from '../../src/experiments/convergence-trace.js';
import { DEFAULT_TRAIN_CONFIG } from '../../src/training/train-config.js';
import { makeSynthDataset } from '../../src/dataset-makers/synth-dataset.js';
import { removeTempDirs, tempDir } from '../datasets/fixtures.js';

let data: string;

beforeAll(async () => {
  data = (await makeSynthDataset({ out: join(tempDir('seg-manifest-'), 'synth'), train: 2, val: 1, size: 32, seed: 1 })).root;
});
afterAll(removeTempDirs);

describe('trace.json (the manifest of seg trace)', () => {
  it('is checked field by field when read back, not cast', async () => {
    const out = tempDir('seg-manifest-run-');
    const base = { ...DEFAULT_TRAIN_CONFIG, data, backbone: 'resnet18' as const, width: 0.125, crop: 32, batch: 2, iters: 2, evalEvery: 1 };
    writeFileSync(join(out, 'trace.json'), JSON.stringify({ heads: ['softmax'], seeds: [0], base: { ...base, lr: 'abc' } }));
    await expect(runTrace({ heads: ['softmax'], seeds: [0], out, base })).rejects.toThrow(
      /trace\.json: base\.lr: got "abc", expected a number > 0/,
    );
    writeFileSync(join(out, 'trace.json'), JSON.stringify({ heads: ['softmax'], seeds: [-1], base }));
    await expect(runTrace({ heads: ['softmax'], seeds: [0], out, base })).rejects.toThrow(/trace\.json: seeds\[0\]: got -1/);
    expect(existsSync(join(out, '.lock')), 'a failed trace leaves its folder unlocked').toBe(false);
  });

  it('a trace folder in use by another live process is refused before anything is written', async () => {
    const out = tempDir('seg-manifest-locked-');
    const base = { ...DEFAULT_TRAIN_CONFIG, data, backbone: 'resnet18' as const, width: 0.125, crop: 32, batch: 2, iters: 2, evalEvery: 1 };
    // pid 1 always runs: the lock is live, not stale.
    writeFileSync(join(out, '.lock'), JSON.stringify({ pid: 1, host: hostname() }));
    await expect(runTrace({ heads: ['softmax'], seeds: [0], out, base })).rejects.toThrow(/is in use by another run \(pid 1 on /);
    expect(existsSync(join(out, 'trace.json'))).toBe(false);
    expect(existsSync(join(out, '.lock')), 'the other owner keeps its lock').toBe(true);
  });
});
