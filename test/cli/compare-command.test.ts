import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { runSeg } from './run-cli.js';
import { writeTraceCsv, type TraceCsvRow } from '../../src/experiments/trace-csv.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const run = runSeg;

/** softmax evaluated 0.2, 0.4 at 10, 20 (best 0.4); egb 0.39, 0.41: threshold 0.95 * 0.4 = 0.38. */
function traceDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'seg-compare-cli-'));
  dirs.push(dir);
  const rows: TraceCsvRow[] = [];
  const evals: Record<string, [number, number]> = { softmax: [0.2, 0.4], 'egb:exp:alpha=0.3,beta=0': [0.39, 0.41] };
  for (const [head, [a, b]] of Object.entries(evals)) {
    for (const iter of [0, 5, 10, 15, 20]) {
      rows.push({
        head,
        seed: 0,
        iter,
        wall_s: iter,
        loss: 1 / (1 + iter),
        train_acc: 0.5,
        val_miou: iter === 10 ? a : iter === 20 ? b : null,
        lr: null,
      });
    }
  }
  writeTraceCsv(join(dir, 'trace.csv'), rows);
  return dir;
}

describe('seg compare', () => {
  afterEach(() => {
    process.exitCode = undefined;
  });

  it('prints JSON with one object per head and writes the charts, naming them on stderr', async () => {
    const dir = traceDir();
    const { code, out, err } = await run(['compare', dir, '--format', 'json']);
    expect(code).toBe(0);
    const json = JSON.parse(out) as { target: number; threshold: number; baseline: string; heads: Array<Record<string, unknown>> };
    expect(json.target).toBe(0.95);
    expect(json.baseline).toBe('softmax');
    expect(json.threshold).toBeCloseTo(0.38, 12);
    expect(json.heads.map((h) => [h.head, h.bestMIoU, h.finalMIoU, h.itersToTarget, h.reached])).toEqual([
      ['softmax', 0.4, 0.4, 20, 1],
      ['egb:exp:alpha=0.3,beta=0', 0.41, 0.41, 10, 1],
    ]);
    expect(json.heads[1]?.speedupPct).toBeCloseTo(50, 9);
    for (const name of ['miou.svg', 'miou.png', 'loss.svg', 'loss.png']) {
      expect(existsSync(join(dir, name))).toBe(true);
      expect(err).toContain(join(dir, name));
    }
  });

  it('--format md, --target, --baseline, --no-charts', async () => {
    const dir = traceDir();
    const { code, out } = await run([
      'compare',
      dir,
      '--format',
      'md',
      '--target',
      '1',
      '--baseline',
      'egb:exp:alpha=0.3,beta=0',
      '--no-charts',
    ]);
    expect(code).toBe(0);
    expect(out).toContain("Target: 100.0% of egb:exp:alpha=0.3,beta=0's best val mIoU 41.00% (mean of 1 seed) = 41.00% mIoU");
    expect(out).toContain('| `softmax` | - | 1 | 40.00 | 40.00 | never | 0/1 | - | - | - | - |');
    expect(existsSync(join(dir, 'miou.svg'))).toBe(false);
    const table = await run(['compare', dir, '--no-charts']);
    expect(table.out).toMatch(/^softmax\s+-\s+1\s+40\.00\s+40\.00\s+20\s+1\/1\s+-\s+20\.0 s\s+0\.0%\s+0\.0%$/m);
  });

  it('user errors: missing directory, missing trace.csv, bad flags', async () => {
    const missing = await run(['compare', join(tmpdir(), 'seg-no-such-trace-dir')]);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/^error: .*no such trace directory; run seg trace/);
    const empty = mkdtempSync(join(tmpdir(), 'seg-compare-empty-'));
    dirs.push(empty);
    const noCsv = await run(['compare', empty]);
    expect(noCsv.code).toBe(1);
    expect(noCsv.err).toMatch(/trace\.csv: not found; run seg trace/);
    const dir = traceDir();
    expect((await run(['compare', dir, '--target', '0'])).err).toMatch(/--target: got '0'/);
    expect((await run(['compare', dir, '--format', 'xml'])).code).not.toBe(0);
    const base = await run(['compare', dir, '--baseline', 'linear', '--no-charts']);
    expect(base.err).toMatch(/--baseline: got 'linear', expected one of softmax, egb:exp:alpha=0.3,beta=0/);
  });

  it('takes DIR/trace.csv for DIR; refuses --select-by without --select and --json with another --format', async () => {
    const dir = traceDir();
    const byDir = await run(['compare', dir, '--no-charts']);
    const byFile = await run(['compare', join(dir, 'trace.csv'), '--no-charts']);
    expect(byFile.code, byFile.err).toBe(0);
    expect(byFile.out).toBe(byDir.out);
    const selectBy = await run(['compare', dir, '--select-by', 'auc', '--no-charts']);
    expect(selectBy.code).toBe(1);
    expect(selectBy.err).toMatch(/error: --select-by: only with --select best-lr/);
    const both = await run(['compare', dir, '--json', '--format', 'md', '--no-charts']);
    expect(both.code).toBe(1);
    expect(both.err).toMatch(/error: --json and --format md: --json is --format json; give one of them/);
    expect((await run(['compare', dir, '--json', '--format', 'json', '--no-charts'])).code).toBe(0);
  });
});
