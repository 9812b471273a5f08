/** seg trace's flags: the lr grid through the CLI, --seed/--seeds and --lr/--lrs conflicts, the shown --eval-every default, the whole-trace ETA. */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { defaultTraceEvalEvery } from '../../src/cli/trace-command.js';
import { traceEtaSeconds, traceRunProgress } from '../../src/cli/run-progress.js';
import { readTraceCsv } from '../../src/experiments/trace-csv.js';
import { makeSynthDataset } from '../../src/dataset-makers/synth-dataset.js';
import { removeTempDirs, tempDir } from '../datasets/fixtures.js';
import { runSeg } from './run-cli.js';

let data: string;
const small = ['--backbone', 'resnet18', '--width', '0.125', '--crop', '32', '--batch', '2', '--backend', 'wasm'];

beforeAll(async () => {
  data = (await makeSynthDataset({ out: join(tempDir('seg-trace-cli-'), 'synth'), train: 4, val: 2, size: 40, seed: 3 })).root;
});
afterAll(removeTempDirs);

describe('seg trace flags', () => {
  it('--seed with --seeds, and --lr with --lrs, are errors that name the fix', async () => {
    const out = join(tempDir('seg-trace-cli-err-'), 't');
    const both = await runSeg(['trace', '--data', data, '--heads', 'softmax', '--seed', '1', '--seeds', '0,1', '--out', out, ...small]);
    expect(both.code).not.toBe(0);
    expect(both.err).toMatch(/--seed and --seeds: give the seeds of a trace with --seeds only/);
    const lrs = await runSeg(['trace', '--data', data, '--heads', 'softmax', '--lr', '0.1', '--lrs', '0.1,0.2', '--out', out, ...small]);
    expect(lrs.code).not.toBe(0);
    expect(lrs.err).toMatch(/--lr and --lrs: give one learning rate with --lr or a grid with --lrs/);
    expect(existsSync(out)).toBe(false);
  });

  it('checks the memory of a step before the first run, unless --skip-memory-check', async () => {
    const out = join(tempDir('seg-trace-cli-mem-'), 't');
    const big = ['--backbone', 'resnet101', '--crop', '513', '--batch', '8', '--backend', 'wasm', '--iters', '1'];
    const r = await runSeg(['trace', '--data', data, '--heads', 'softmax', '--out', out, ...big]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      /error: training resnet101 .* at batch 8 x 513x513 needs about \d+\.\d GiB .*more than 2\.80 GiB on the wasm backend/,
    );
    expect(r.err).not.toContain('internal error');
    expect(existsSync(out)).toBe(false);
    expect((await runSeg(['trace', '--help'])).out).toContain('--skip-memory-check');
  });

  it('help shows the default of --eval-every that a trace really uses', async () => {
    const help = await runSeg(['trace', '--help']);
    expect(help.out.replace(/\s+/g, ' ')).toContain('(default: --iters / 10, rounded up)');
    expect(help.out).toContain('--lrs <list>');
    expect(defaultTraceEvalEvery(3000)).toBe(300);
    expect(defaultTraceEvalEvery(25)).toBe(3);
    expect(defaultTraceEvalEvery(4)).toBe(1);
  });

  it('--lrs through the CLI: runs named with the lr, the lr in trace.csv, evaluations at the default interval; compare --json --select best-lr', async () => {
    const out = join(tempDir('seg-trace-cli-grid-'), 't');
    const tr = await runSeg([
      'trace',
      '--data',
      data,
      '--heads',
      'linear',
      '--lrs',
      '0.01,0.02',
      '--seed',
      '2',
      '--iters',
      '4',
      '--log-every',
      '1',
      '--out',
      out,
      ...small,
    ]);
    expect(tr.code, tr.err).toBe(0);
    expect(
      readdirSync(out)
        .filter((f) => f.startsWith('linear'))
        .sort(),
    ).toEqual(['linear-lr0.01-s2', 'linear-lr0.02-s2']);
    const rows = readTraceCsv(join(out, 'trace.csv'));
    expect([...new Set(rows.map((r) => `${r.lr}:${r.seed}`))]).toEqual(['0.01:2', '0.02:2']);
    // --iters 4 without --eval-every: an evaluation every ceil(4 / 10) = 1 iteration.
    expect(rows.filter((r) => r.val_miou !== null).map((r) => r.iter)).toEqual([1, 2, 3, 4, 1, 2, 3, 4]);
    // The command it prints works as printed.
    const printed = /compare them with: seg (compare .*)$/m.exec(tr.out)?.[1] ?? '';
    expect(printed).toBe(`compare ${out} --select best-lr --baseline linear`);
    const asPrinted = await runSeg([...printed.split(' '), '--no-charts']);
    expect(asPrinted.code, asPrinted.err).toBe(0);
    const cmp = await runSeg(['compare', out, '--json', '--select', 'best-lr', '--baseline', 'linear', '--no-charts']);
    expect(cmp.code, cmp.err).toBe(0);
    const json = JSON.parse(cmp.out) as {
      baselineLr: number;
      heads: { head: string; lr: number }[];
      selection: { rule: string; grid: unknown[] };
    };
    expect(json.selection.rule).toBe('best');
    expect(json.selection.grid).toHaveLength(2);
    expect(json.heads).toHaveLength(1);
    expect([0.01, 0.02]).toContain(json.heads[0]?.lr);
    expect(json.baselineLr).toBe(json.heads[0]?.lr);
  });
});

describe('traceEtaSeconds', () => {
  it("is never less than the current run's own ETA (a run slower than the average so far)", () => {
    // The current run: 1 it/s, 100 left (100 s); earlier runs: 10 it/s; one later run of 1000.
    const eta = traceEtaSeconds({
      elapsedSeconds: 100,
      trainedIterations: 1000,
      remainingIterations: 1100,
      currentRunSeconds: 100,
      currentRunRemaining: 100,
    });
    expect(eta).toBe(100 + 1000 * 0.1);
    expect(eta).toBeGreaterThanOrEqual(100);
  });

  it('estimates the whole trace from the rate so far', () => {
    // 100 iterations in 50 s; 300 left in this run and the next ones: 150 s.
    expect(traceEtaSeconds({ elapsedSeconds: 50, trainedIterations: 100, remainingIterations: 300 })).toBe(150);
    expect(traceEtaSeconds({ elapsedSeconds: 0, trainedIterations: 0, remainingIterations: 300 })).toBe(Infinity);
  });
});

describe('traceRunProgress', () => {
  it('counts a resumed run from its first step in this process', () => {
    vi.useFakeTimers();
    try {
      vi.setSystemTime(0);
      const lines: string[] = [];
      const stream = { write: (s: string) => lines.push(s) > 0 } as unknown as NodeJS.WritableStream;
      const hooks = traceRunProgress(8000, stream)({ head: 'softmax', seed: 0, lr: 0.05, dir: 'x', index: 1, total: 1 });
      const step = (iteration: number) => hooks.onStep?.({ iteration, iterations: 8000, loss: 1, lr: 0.05, trainAcc: 0.5 });
      step(501); // resumed from the checkpoint at 500
      vi.setSystemTime(20_000);
      step(521);
      const last = lines.at(-1) ?? '';
      // 20 iterations in 20 s: 1 it/s and 7479 iterations left (not 521 iterations in 20 s).
      expect(last).toMatch(/\[1\/1\] softmax lr=0\.05 s0 521\/8000 .* 1\.00 it\/s ETA 2h04m/);
    } finally {
      vi.useRealTimers();
    }
  });
});
