import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf.js';
import { runTrace, splitHeadList, traceRunDir } from '../../src/experiments/convergence-trace.js';
import { headSlug } from '../../src/heads/head-spec.js';
import { readTraceCsv } from '../../src/experiments/trace-csv.js';
import { DEFAULT_TRAIN_CONFIG } from '../../src/training/train-config.js';
import { makeSynthDataset } from '../../src/voc/synth-dataset.js';
import { removeTempDirs, tempDir } from '../voc/fixtures.js';

let data: string;

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
  data = (await makeSynthDataset({ out: join(tempDir('seg-trace-'), 'synth'), train: 6, val: 2, size: 40, seed: 2 })).root;
});
afterAll(removeTempDirs);

function base(iters: number): Parameters<typeof runTrace>[0]['base'] {
  return { ...DEFAULT_TRAIN_CONFIG, data, backbone: 'resnet18', width: 0.125, crop: 32, batch: 2, iters, evalEvery: 2, saveEvery: 1, logEvery: 1, lr: 0.01 };
}

describe('splitHeadList', () => {
  it('splits at the commas that start a head, keeping parameter lists whole', () => {
    expect(splitHeadList('softmax,egb')).toEqual(['softmax', 'egb']);
    expect(splitHeadList('softmax,egb:exp:alpha=0.3,beta=0.1,egb:pow3,linear')).toEqual(['softmax', 'egb:exp:alpha=0.3,beta=0.1', 'egb:pow3', 'linear']);
    expect(() => splitHeadList('softmax,softmax')).toThrow(/listed twice/);
    expect(headSlug('egb:exp:alpha=0.3,beta=0')).toBe('egb-exp-alpha=0.3_beta=0');
  });
});

describe('runTrace', () => {
  it('starts every head from the same weights on the same batches, and resumes after an interrupt', async () => {
    const out = tempDir('seg-trace-run-');
    const controller = new AbortController();
    const first = await runTrace(
      { heads: ['softmax', 'egb'], seeds: [4], out, base: base(4) },
      {
        signal: controller.signal,
        runHooks: () => ({
          onStep: (s) => {
            if (s.iteration === 2) controller.abort();
          },
        }),
      },
    );
    expect(first.interrupted).toBe(true);
    const resumed = await runTrace({ heads: ['softmax', 'egb'], seeds: [4], out, base: base(4) });
    expect(resumed.interrupted).toBe(false);
    const rows = readTraceCsv(join(out, 'trace.csv'));
    for (const head of ['softmax', 'egb']) {
      const mine = rows.filter((r) => r.head === head);
      expect(mine.map((r) => r.iter)).toEqual([1, 2, 3, 4]);
      expect(mine.filter((r) => r.val_miou !== null).map((r) => r.iter)).toEqual([2, 4]);
    }
    // Iteration 1's training accuracy comes from the initial weights on the first batch:
    // equal for both heads only if they share both.
    const acc1 = rows.filter((r) => r.iter === 1).map((r) => r.train_acc);
    expect(acc1[0]).not.toBeNull();
    expect(acc1[1]).toBe(acc1[0]);
    expect(traceRunDir(out, 'egb', 4)).toBe(join(out, 'egb-s4'));
  });

  it('refuses to resume a trace with other training arguments', async () => {
    const out = tempDir('seg-trace-args-');
    await runTrace({ heads: ['linear'], seeds: [0], out, base: base(2) });
    await expect(runTrace({ heads: ['linear'], seeds: [0], out, base: { ...base(2), lr: 0.5 } })).rejects.toThrow(/started with other training arguments \(lr: 0.01 before, 0.5 now\)/);
  });
});
