import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf.js';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { readTrace } from '../../src/training/run-log.js';
import {
  DIVERGED_FILE,
  nonFiniteDivergence,
  nonFiniteIteration,
  parseLrList,
  readDivergence,
  runCsvRows,
  runTrace,
  splitHeadList,
  traceRunDir,
} from '../../src/experiments/convergence-trace.js';
import { compareTraces } from '../../src/experiments/compare.js';
import { formatComparisonTable } from '../../src/experiments/compare-format.js';
import { SegError } from '../../src/core/errors.js';
import { NonFiniteError } from '../../src/training/non-finite-error.js';
import { headSlug } from '../../src/heads/head-spec.js';
import { readTraceCsv } from '../../src/experiments/trace-csv.js';
import { DEFAULT_TRAIN_CONFIG } from '../../src/training/train-config.js';
import { makeSynthDataset } from '../../src/dataset-makers/synth-dataset.js';
import { removeTempDirs, tempDir } from '../datasets/fixtures.js';

let data: string;

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
  data = (await makeSynthDataset({ out: join(tempDir('seg-trace-'), 'synth'), train: 6, val: 2, size: 40, seed: 2 })).root;
});
afterAll(removeTempDirs);

function base(iters: number): Parameters<typeof runTrace>[0]['base'] {
  return {
    ...DEFAULT_TRAIN_CONFIG,
    data,
    backbone: 'resnet18',
    width: 0.125,
    crop: 32,
    batch: 2,
    iters,
    evalEvery: 2,
    saveEvery: 1,
    logEvery: 1,
    lr: 0.01,
  };
}

describe('splitHeadList', () => {
  it('splits at the commas that start a head, keeping parameter lists whole', () => {
    expect(splitHeadList('softmax,egb')).toEqual(['softmax', 'egb']);
    expect(splitHeadList('softmax,egb:exp:alpha=0.3,beta=0.1,egb:pow3,linear')).toEqual([
      'softmax',
      'egb:exp:alpha=0.3,beta=0.1',
      'egb:pow3',
      'linear',
    ]);
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
    await expect(runTrace({ heads: ['linear'], seeds: [0], out, base: { ...base(2), lr: 0.5 } })).rejects.toThrow(
      /started with other training arguments \(lr: 0.01 before, 0.5 now\)/,
    );
  });

  it('runs every head at every lr of a grid, keeps a run forced to diverge, and compare shows it as diverged', async () => {
    const out = tempDir('seg-trace-grid-');
    const lines: string[] = [];
    const options = { heads: ['softmax', 'egb'], seeds: [1], lrs: [0.01, 1e6], out, base: base(4) };
    const result = await runTrace(options, { log: (l) => lines.push(l) });
    expect(result.interrupted).toBe(false);
    expect(result.runs.map((r) => [r.head, r.lr, r.dir])).toEqual([
      ['softmax', 0.01, join(out, 'softmax-lr0.01-s1')],
      ['softmax', 1e6, join(out, 'softmax-lr1000000-s1')],
      ['egb', 0.01, join(out, 'egb-lr0.01-s1')],
      ['egb', 1e6, join(out, 'egb-lr1000000-s1')],
    ]);
    const rows = readTraceCsv(join(out, 'trace.csv'));
    // Same start and first batch at every lr: iteration 1 (one step from the shared weights) matches across lrs of a head.
    for (const head of ['softmax', 'egb']) {
      const first = rows.filter((r) => r.head === head && r.iter === 1);
      expect(first.map((r) => r.lr)).toEqual([0.01, 1e6]);
      expect(first[1]?.train_acc).toBe(first[0]?.train_acc);
    }
    // At lr 1e6 the exp boost overflows: the run is kept, diverged, with a non-finite last row.
    const diverged = readDivergence(traceRunDir(out, 'egb', 1, 1e6));
    expect(diverged).not.toBeNull();
    const egbBig = rows.filter((r) => r.head === 'egb' && r.lr === 1e6);
    const last = egbBig[egbBig.length - 1];
    expect(last?.iter).toBe(diverged?.iteration);
    expect(Number.isFinite(last?.loss)).toBe(false);
    expect(egbBig.slice(0, -1).every((r) => Number.isFinite(r.loss))).toBe(true);
    expect(lines.some((l) => /egb lr 1000000 seed 1 diverged at iteration \d+/.test(l))).toBe(true);
    // Resuming skips finished and diverged runs alike.
    const again: string[] = [];
    await runTrace(options, { log: (l) => again.push(l) });
    expect(again.filter((l) => /already (finished|diverged at iteration \d+)/.test(l))).toHaveLength(4);
    // compare without a selection lists every (head, lr); with best-lr, the diverged lr is never selected.
    expect(() => compareTraces(rows)).toThrow(/baseline 'softmax' ran at 2 learning rates .*--select best-lr/);
    const all = formatComparisonTable(compareTraces(rows.filter((r) => r.lr === 0.01 || r.head === 'egb')));
    const egbLine = all.split('\n').find((l) => l.startsWith('egb ') && l.includes('1000000')) as string;
    expect(egbLine).toMatch(/never\s+0\/1\s+1\/1: s1 at \d+/);
    const selected = compareTraces(rows, { select: 'best-lr' });
    expect(selected.heads.map((h) => [h.head, h.lr])).toEqual([
      ['softmax', 0.01],
      ['egb', 0.01],
    ]);
    const grid = selected.selection?.grid.find((e) => e.head === 'egb' && e.lr === 1e6);
    expect(grid?.runs[0]?.divergedAt).toBe(diverged?.iteration);
    expect(grid?.score).toBe(0);
    expect(formatComparisonTable(selected)).toMatch(/egb\s+1000000\s+0\.00\s+s1\s+s1 \S+\s+s1 diverged at \d+/);
  });

  it('parses --lrs and recognises the non-finite loss error', () => {
    expect(parseLrList('0.01, 0.03,0.1')).toEqual([0.01, 0.03, 0.1]);
    expect(() => parseLrList('0.01,0')).toThrow(/--lrs: got '0.01,0', expected comma-separated learning rates > 0/);
    expect(() => parseLrList('0.1,0.1')).toThrow(/--lrs: 0.1 is listed twice/);
    // The trainer's typed error is read by its fields, never by its message.
    const typed = new NonFiniteError('loss became non-finite', { iteration: 12, what: 'loss', value: Number.NaN });
    expect(nonFiniteIteration(typed)).toBe(12);
    expect(nonFiniteDivergence(typed)?.what).toBe('loss');
    expect(nonFiniteIteration(new SegError('iteration 7: the loss is NaN; training stopped.'))).toBeNull();
    expect(nonFiniteIteration(new SegError('--data: not found'))).toBeNull();
    expect(DIVERGED_FILE).toBe('diverged.json');
  });

  it('a grid trace cannot be resumed without its grid', async () => {
    const out = tempDir('seg-trace-grid-args-');
    await runTrace({ heads: ['linear'], seeds: [0], lrs: [0.01], out, base: base(1) });
    expect(existsSync(join(out, 'linear-lr0.01-s0'))).toBe(true);
    await expect(runTrace({ heads: ['linear'], seeds: [0], out, base: base(1) })).rejects.toThrow(
      /started with an --lrs grid; resume it the same way/,
    );
  });

  it('every evaluation reaches trace.csv, also at iterations that are not a multiple of logEvery', async () => {
    const out = tempDir('seg-trace-every-eval-');
    await runTrace({ heads: ['softmax'], seeds: [0], out, base: { ...base(8), evalEvery: 3, logEvery: 2 } });
    const rows = readTraceCsv(join(out, 'trace.csv'));
    const evals = readTrace(traceRunDir(out, 'softmax', 0)).filter((r) => r.type === 'eval');
    expect(evals.map((r) => r.iter)).toEqual([3, 6, 8]);
    expect(rows.filter((r) => r.val_miou !== null).map((r) => [r.iter, r.val_miou])).toEqual(
      evals.map((r) => [r.iter, r.type === 'eval' ? r.mIoU : null]),
    );
    // A train row is logged at each evaluation too, so those rows have a loss.
    expect(rows.filter((r) => r.val_miou !== null).every((r) => r.loss !== null && Number.isFinite(r.loss))).toBe(true);
    expect(rows.map((r) => r.iter)).toEqual([2, 3, 4, 6, 8]);
  });

  it('a trace.jsonl from before that (evaluations between logged steps) keeps every evaluation in trace.csv', () => {
    const dir = tempDir('seg-trace-old-jsonl-');
    const lines = [
      ...[5, 10, 15, 20].map((iter) => ({ type: 'train', iter, wallSeconds: iter / 10, loss: 1 / iter, lr: 0.01, trainAcc: 0.5 })),
      ...[7, 14, 20].map((iter) => ({ type: 'eval', iter, wallSeconds: iter / 10, mIoU: iter / 100, aAcc: 0.5, classIoU: {}, images: 2 })),
    ];
    writeFileSync(join(dir, 'trace.jsonl'), lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
    const rows = runCsvRows(dir, 'softmax', 0, 0.01);
    expect(rows.map((r) => [r.iter, r.loss, r.val_miou])).toEqual([
      [5, 0.2, null],
      [7, null, 0.07],
      [10, 0.1, null],
      [14, null, 0.14],
      [15, 1 / 15, null],
      [20, 0.05, 0.2],
    ]);
    expect(rows[1]?.wall_s).toBe(0.7);
  });

  it('a finished run whose folder is deleted while the trace goes on is reported, not dropped silently', async () => {
    const out = tempDir('seg-trace-deleted-');
    const first = traceRunDir(out, 'softmax', 0);
    const trace = runTrace(
      { heads: ['softmax', 'linear'], seeds: [0], out, base: { ...base(2), saveEvery: 0 } },
      {
        runHooks: (run) => ({
          onStep: () => {
            if (run.head === 'linear') rmSync(first, { recursive: true, force: true });
          },
        }),
      },
    );
    await expect(trace).rejects.toThrow(
      /run 1\/2 \(softmax seed 0\): its folder .*softmax-s0 was removed while the trace ran, so trace\.csv lacks it; rerun the same command to train it again/,
    );
    expect(new Set(readTraceCsv(join(out, 'trace.csv')).map((r) => r.head))).toEqual(new Set(['linear']));
  });

  it('updates trace.csv at each evaluation, before the run ends', async () => {
    const out = tempDir('seg-trace-live-');
    let seen: number[] = [];
    await runTrace(
      { heads: ['linear'], seeds: [0], out, base: base(3) },
      {
        runHooks: () => ({
          onStep: (s) => {
            if (s.iteration === 3)
              seen = readTraceCsv(join(out, 'trace.csv'))
                .filter((r) => r.val_miou !== null)
                .map((r) => r.iter);
          },
        }),
      },
    );
    expect(seen).toEqual([2]);
  });
});
