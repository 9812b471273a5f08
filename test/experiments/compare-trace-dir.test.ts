import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compareTraceDir, loadTraceDir, traceDirOf } from '../../src/experiments/compare-trace-dir.js';
import { formatTraceCsv, type TraceCsvRow } from '../../src/experiments/trace-csv.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** One seed per head, evaluated at 100 and 200: softmax best 0.6, egb best 0.7 (reaches 0.95 * 0.6 at 100). */
function rows(): TraceCsvRow[] {
  const out: TraceCsvRow[] = [];
  for (const [head, evals] of [
    ['softmax', [0.5, 0.6]],
    ['egb', [0.7, 0.65]],
  ] as const) {
    for (const iter of [0, 100, 200]) {
      out.push({
        head,
        seed: 0,
        iter,
        wall_s: iter,
        loss: 1 / (1 + iter),
        train_acc: 0.5,
        val_miou: iter === 0 ? null : (evals[iter / 100 - 1] as number),
        lr: null,
      });
    }
  }
  return out;
}

function traceDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'seg-compare-dir-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'trace.csv'), formatTraceCsv(rows()));
  return dir;
}

describe('compareTraceDir', () => {
  it('reads DIR/trace.csv (or the file itself), compares, and writes the charts beside it', async () => {
    const dir = traceDir();
    const { comparison, charts } = await compareTraceDir(join(dir, 'trace.csv'));
    expect(comparison.baselineBestMIoU).toBeCloseTo(0.6, 12);
    expect(comparison.heads.find((h) => h.head === 'egb')?.itersToTarget).toBe(100);
    expect(charts).not.toBeNull();
    for (const name of ['miou.svg', 'loss.svg']) expect(existsSync(join(dir, name))).toBe(true);
    expect(traceDirOf(join(dir, 'trace.csv'))).toBe(dir);
  });

  it('charts: false writes nothing', async () => {
    const dir = traceDir();
    const { charts } = await compareTraceDir(dir, { charts: false });
    expect(charts).toBeNull();
    expect(existsSync(join(dir, 'miou.svg'))).toBe(false);
  });

  it('loadTraceDir: a missing directory or trace.csv says to run seg trace first', () => {
    const dir = mkdtempSync(join(tmpdir(), 'seg-compare-'));
    dirs.push(dir);
    expect(() => loadTraceDir(join(dir, 'nope'))).toThrow(/nope: no such trace directory; run seg trace --out .* first/);
    mkdirSync(join(dir, 'empty'));
    expect(() => loadTraceDir(join(dir, 'empty'))).toThrow(/trace\.csv: not found; run seg trace --out .* first/);
    writeFileSync(join(dir, 'empty', 'trace.csv'), formatTraceCsv(rows()));
    expect(loadTraceDir(join(dir, 'empty'))).toHaveLength(6);
  });
});
