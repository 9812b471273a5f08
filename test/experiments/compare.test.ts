import { describe, expect, it } from 'vitest';
import { SegError } from '../../src/core/errors.js';
import { Rng } from '../../src/core/random.js';
import { compareTraces, type HeadComparison } from '../../src/experiments/compare.js';
import { mean, sampleStd } from '../../src/core/numbers.js';
import { formatComparisonMarkdown, formatComparisonTable } from '../../src/experiments/compare-format.js';
import { formatTraceCsv, parseTraceCsv, type TraceCsvRow } from '../../src/experiments/trace-csv.js';

/**
 * Rows every 50 iterations up to 400, evaluated every 100; wall_s = iter * secondsPerIter.
 * `evals` are the val mIoU at iterations 100, 200, 300, 400.
 */
function run(head: string, seed: number, secondsPerIter: number, evals: [number, number, number, number]): TraceCsvRow[] {
  const rows: TraceCsvRow[] = [];
  for (let iter = 0; iter <= 400; iter += 50) {
    const evaluated = iter > 0 && iter % 100 === 0;
    rows.push({
      head,
      seed,
      iter,
      wall_s: iter * secondsPerIter,
      loss: 2 / (1 + iter / 50),
      train_acc: 0.5,
      val_miou: evaluated ? evals[iter / 100 - 1] : null,
      lr: null,
    });
  }
  return rows;
}

/**
 * By hand, target 0.95:
 *   softmax best 0.70, 0.74 -> mean 0.72, std sqrt(2 * 0.02^2) = 0.028284; final 0.68, 0.74 -> 0.71
 *   threshold = 0.95 * 0.72 = 0.684
 *   softmax: seed 0 reaches at 300 (0.70), seed 1 at 400 (0.74) -> 350 iters; wall 60, 80 -> 70 s
 *   egb:     seed 0 reaches at 200 (0.69), seed 1 at 300 (0.70) -> 250 iters; wall 50, 75 -> 62.5 s
 *   speed-up 100 * (1 - 250/350) = 28.571%; wall 100 * (1 - 62.5/70) = 10.714%
 *   egb best 0.72, 0.73 -> 0.725, final 0.71, 0.73 -> 0.72
 */
function fixtureRows(): TraceCsvRow[] {
  const rows = [
    ...run('softmax', 0, 0.2, [0.4, 0.6, 0.7, 0.68]),
    ...run('softmax', 1, 0.2, [0.3, 0.5, 0.66, 0.74]),
    ...run('egb', 0, 0.25, [0.55, 0.69, 0.72, 0.71]),
    ...run('egb', 1, 0.25, [0.5, 0.65, 0.7, 0.73]),
  ];
  // Interleave runs arbitrarily: the analysis must not depend on row order.
  return new Rng(7, 'compare-test').shuffle(rows);
}

function head(heads: HeadComparison[], name: string): HeadComparison {
  const h = heads.find((x) => x.head === name);
  if (h === undefined) throw new Error(`no head ${name}`);
  return h;
}

describe('compareTraces', () => {
  it('mean and sample std helpers', () => {
    expect(mean([])).toBeNull();
    expect(mean([1, 2, 6])).toBe(3);
    expect(sampleStd([5])).toBeNull();
    expect(sampleStd([1, 2, 6])).toBeCloseTo(Math.sqrt((4 + 1 + 9) / 2), 12);
  });

  it('computes best/final means, the threshold, iterations and time to it and the speed-up (hand-computed)', () => {
    const c = compareTraces(parseTraceCsv(formatTraceCsv(fixtureRows()), 'trace.csv'));
    expect(c.target).toBe(0.95);
    expect(c.baseline).toBe('softmax');
    expect(c.baselineBestMIoU).toBeCloseTo(0.72, 12);
    expect(c.threshold).toBeCloseTo(0.684, 12);
    expect(c.heads.map((h) => h.head).sort()).toEqual(['egb', 'softmax']);
    const s = head(c.heads, 'softmax');
    expect(s.seeds).toBe(2);
    expect(s.bestMIoU).toBeCloseTo(0.72, 12);
    expect(s.bestMIoUStd).toBeCloseTo(0.0282842712, 9);
    expect(s.finalMIoU).toBeCloseTo(0.71, 12);
    expect(s.finalMIoUStd).toBeCloseTo(0.0424264069, 9);
    expect(s.runs.map((r) => r.itersToTarget)).toEqual([300, 400]);
    expect(s.itersToTarget).toBe(350);
    expect(s.itersToTargetStd).toBeCloseTo(70.7106781, 6);
    expect(s.wallToTarget).toBeCloseTo(70, 9);
    expect(s.reached).toBe(2);
    expect(s.speedupPct).toBe(0);
    expect(s.wallSpeedupPct).toBe(0);
    expect(s.runs[1]).toMatchObject({
      seed: 1,
      bestMIoU: 0.74,
      bestIter: 400,
      finalMIoU: 0.74,
      finalIter: 400,
      evaluations: 4,
      lastIter: 400,
    });
    const e = head(c.heads, 'egb');
    expect(e.bestMIoU).toBeCloseTo(0.725, 12);
    expect(e.bestMIoUStd).toBeCloseTo(0.0070710678, 9);
    expect(e.finalMIoU).toBeCloseTo(0.72, 12);
    expect(e.runs.map((r) => r.itersToTarget)).toEqual([200, 300]);
    expect(e.itersToTarget).toBe(250);
    expect(e.wallToTarget).toBeCloseTo(62.5, 9);
    expect(e.speedupPct).toBeCloseTo(28.5714286, 6);
    expect(e.wallSpeedupPct).toBeCloseTo(10.7142857, 6);
    expect(c.notes).toEqual([]);
  });

  it('counts an evaluation exactly at the threshold and reports partial reach (target 1)', () => {
    // threshold = 0.72: softmax seed 0 (best 0.70) never gets there, seed 1 at 400;
    // egb seed 0 equals it at 300, seed 1 passes at 400 -> 350; speed-up 100 * (1 - 350/400) = 12.5.
    const c = compareTraces(fixtureRows(), { target: 1 });
    const s = head(c.heads, 'softmax');
    expect(s.reached).toBe(1);
    expect(s.itersToTarget).toBe(400);
    expect(s.itersToTargetStd).toBeNull();
    expect(s.runs[0]?.itersToTarget).toBeNull();
    const e = head(c.heads, 'egb');
    expect(e.runs.map((r) => r.itersToTarget)).toEqual([300, 400]);
    expect(e.speedupPct).toBeCloseTo(12.5, 9);
  });

  it('a head that never reaches the target: null iterations, time and speed-up, shown as never', () => {
    const rows = [...fixtureRows(), ...run('egb:pow3', 0, 0.2, [0.1, 0.2, 0.3, 0.4]), ...run('egb:pow3', 1, 0.2, [0.2, 0.3, 0.4, 0.5])];
    const c = compareTraces(rows);
    const p = head(c.heads, 'egb:pow3');
    expect(p).toMatchObject({
      reached: 0,
      itersToTarget: null,
      itersToTargetStd: null,
      wallToTarget: null,
      speedupPct: null,
      wallSpeedupPct: null,
    });
    expect(p.bestMIoU).toBeCloseTo(0.45, 12);
    expect(p.finalMIoU).toBeCloseTo(0.45, 12);
    const table = formatComparisonTable(c);
    const line = table.split('\n').find((l) => l.startsWith('egb:pow3')) as string;
    expect(line).toMatch(/never\s+0\/2\s+-\s+-\s+-\s+-$/);
    expect(line).toMatch(/45\.00 ± 7\.07/);
  });

  it('table and Markdown show the threshold, percent values and signed speed-ups', () => {
    const c = compareTraces(fixtureRows());
    const table = formatComparisonTable(c);
    expect(table).toContain("Target: 95.0% of softmax's best val mIoU 72.00% (mean of 2 seeds) = 68.40% mIoU");
    const egbLine = table.split('\n').find((l) => l.startsWith('egb ')) as string;
    expect(egbLine).toMatch(
      /^egb\s+-\s+2\s+72\.50 ± 0\.71\s+72\.00 ± 1\.41\s+250 ± 71\s+2\/2\s+-\s+62\.5 ± 17\.7 s\s+\+28\.6%\s+\+10\.7%$/,
    );
    const md = formatComparisonMarkdown(c);
    expect(md).toContain(
      '| Head | lr | Seeds | Best mIoU % | Final mIoU % | Iters to target | Reached | Diverged | Wall to target | Speed-up | Wall speed-up |',
    );
    expect(md).toContain('|:---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    expect(md).toContain('| `softmax` | - | 2 | 72.00 ± 2.83 | 71.00 ± 4.24 | 350 ± 71 | 2/2 | - | 70.0 ± 14.1 s | 0.0% | 0.0% |');
  });

  it('lists every run (best and where, final, iterations and wall to target) when a head has several seeds', () => {
    const c = compareTraces(fixtureRows());
    const table = formatComparisonTable(c);
    const perRun = table.slice(table.indexOf('Per run:'));
    expect(perRun).toMatch(/^softmax\s+-\s+s0\s+70\.00 \(300\)\s+68\.00\s+300\s+60\.0 s$/m);
    expect(perRun).toMatch(/^softmax\s+-\s+s1\s+74\.00 \(400\)\s+74\.00\s+400\s+80\.0 s$/m);
    expect(perRun).toMatch(/^egb\s+-\s+s0\s+72\.00 \(300\)\s+71\.00\s+200\s+50\.0 s$/m);
    expect(perRun).toMatch(/^egb\s+-\s+s1\s+73\.00 \(400\)\s+73\.00\s+300\s+75\.0 s$/m);
    const md = formatComparisonMarkdown(c);
    expect(md).toContain('| Head | lr | Seed | Best mIoU % (at) | Final mIoU % | Iters to target | Wall to target |');
    expect(md).toContain('| `egb` | - | s1 | 73.00 (400) | 73.00 | 300 | 75.0 s |');
    // One seed per head: the head table says it all.
    const single = fixtureRows().filter((r) => r.seed === 0);
    expect(formatComparisonTable(compareTraces(single))).not.toContain('Per run:');
    expect(formatComparisonMarkdown(compareTraces(single))).not.toContain('Per run:');
  });

  it('escapes pipes in Markdown heads', () => {
    const rows = fixtureRows().map((r) => (r.head === 'egb' ? { ...r, head: 'a|b' } : r));
    expect(formatComparisonMarkdown(compareTraces(rows))).toContain('| `a\\|b` |');
  });

  it('baseline choice: explicit --baseline, a missing softmax names the heads, an unknown --baseline lists them', () => {
    const rows = fixtureRows();
    const c = compareTraces(rows, { baseline: 'egb' });
    expect(c.baselineBestMIoU).toBeCloseTo(0.725, 12);
    expect(head(c.heads, 'egb').speedupPct).toBe(0);
    const noSoftmax = rows.filter((r) => r.head !== 'softmax');
    expect(() => compareTraces(noSoftmax)).toThrow(SegError);
    expect(() => compareTraces(noSoftmax)).toThrow(
      /no head named 'softmax' in the trace \(heads: egb\); choose the reference with --baseline HEAD/,
    );
    expect(() => compareTraces(rows, { baseline: 'linear' })).toThrow(
      /--baseline: got 'linear', expected one of softmax, egb|--baseline: got 'linear', expected one of egb, softmax/,
    );
    expect(() => compareTraces([])).toThrow(/no rows/);
    expect(() => compareTraces(rows, { target: 0 })).toThrow(/--target/);
  });

  it('notes unevaluated runs and differing seed sets; a baseline without evaluations is an error', () => {
    const rows = [...fixtureRows(), ...run('egb', 2, 0.25, [0.5, 0.5, 0.5, 0.5]).map((r) => ({ ...r, val_miou: null }))];
    const c = compareTraces(rows);
    const e = head(c.heads, 'egb');
    expect(e.seeds).toBe(3);
    expect(e.bestMIoU).toBeCloseTo(0.725, 12);
    expect(c.notes).toEqual([
      'egb: seed 2 has no evaluation yet and are left out of the mIoU means',
      'heads were traced with different seeds: compare with care',
    ]);
    const unevaluated = fixtureRows().map((r) => (r.head === 'softmax' ? { ...r, val_miou: null } : r));
    expect(() => compareTraces(unevaluated)).toThrow(/baseline head 'softmax' has no evaluations/);
  });
});

/** Evaluations at 100 and 200; `divergeAt` cuts the run with a NaN loss row after its first evaluation. */
function gridRun(head: string, lr: number, seed: number, evals: [number, number], divergeAt?: number): TraceCsvRow[] {
  const row = (iter: number, val: number | null, loss = 1): TraceCsvRow => ({
    head,
    seed,
    iter,
    wall_s: iter / 10,
    loss,
    train_acc: 0.5,
    val_miou: val,
    lr,
  });
  if (divergeAt !== undefined) return [row(100, evals[0]), row(divergeAt, null, NaN)];
  return [row(100, evals[0]), row(200, evals[1])];
}

/**
 * Hand-computed scores (span 200 iterations, AUC by trapezoids from (0, 0)):
 *   softmax 0.01: bests 0.6, 0.6 -> 0.6;             AUC (10 + 40) / 200 = 0.25 each -> 0.25
 *   softmax 0.1:  bests 0.5, 0.5 -> 0.5 (seed 2 only at this lr: not scored); AUC 0.3625, 0.35 -> 0.35625
 *   egb 0.01:     bests 0.3, 0.3 -> 0.3;             AUC (5 + 20) / 200 = 0.125
 *   egb 0.1:      seed 0 diverged at 150 (scores 0), seed 1 best 0.8 -> 0.4; AUC (35 / 200 = 0.175, 0.55) -> 0.3625
 */
function gridRows(): TraceCsvRow[] {
  return [
    ...gridRun('softmax', 0.01, 0, [0.2, 0.6]),
    ...gridRun('softmax', 0.01, 1, [0.2, 0.6]),
    ...gridRun('softmax', 0.1, 0, [0.5, 0.45]),
    ...gridRun('softmax', 0.1, 1, [0.5, 0.4]),
    ...gridRun('softmax', 0.1, 2, [0.9, 0.9]),
    ...gridRun('egb', 0.01, 0, [0.1, 0.3]),
    ...gridRun('egb', 0.01, 1, [0.1, 0.3]),
    ...gridRun('egb', 0.1, 0, [0.7, 0], 150),
    ...gridRun('egb', 0.1, 1, [0.7, 0.8]),
  ];
}

describe('compareTraces with an lr grid', () => {
  it("rule 'best': each head at its lr with the best mean best mIoU over the seeds every lr ran; a diverged run scores 0", () => {
    const c = compareTraces(gridRows(), { select: 'best-lr' });
    const grid = c.selection?.grid ?? [];
    expect(grid.map((e) => [e.head, e.lr, e.scoredSeeds, e.selected])).toEqual([
      ['softmax', 0.01, [0, 1], true],
      ['softmax', 0.1, [0, 1], false],
      ['egb', 0.01, [0, 1], false],
      ['egb', 0.1, [0, 1], true],
    ]);
    expect(grid.map((e) => e.score)).toEqual([0.6, 0.5, 0.3, 0.4].map((v) => expect.closeTo(v, 12)));
    expect(c.baselineLr).toBe(0.01);
    expect(c.baselineBestMIoU).toBeCloseTo(0.6, 12);
    expect(c.threshold).toBeCloseTo(0.57, 12);
    const egb = c.heads.find((h) => h.head === 'egb') as HeadComparison;
    // Seed 0 had 0.7 >= 0.57 at iteration 100 but diverged later: it counts as never reaching the target.
    expect([egb.lr, egb.seeds, egb.diverged, egb.reached, egb.itersToTarget, egb.bestMIoU, egb.finalMIoU]).toEqual([
      0.1, 2, 1, 1, 100, 0.8, 0.8,
    ]);
    expect(egb.runs.map((r) => [r.seed, r.divergedAt, r.bestMIoU, r.finalMIoU, r.itersToTarget])).toEqual([
      [0, 150, 0.7, null, null],
      [1, null, 0.8, 0.8, 100],
    ]);
    expect(egb.speedupPct).toBeCloseTo(50, 12);
    expect(c.notes).toContain('egb lr=0.1: seed 0 diverged at iteration 150 (never reaches the target; left out of the mIoU means)');
    const table = formatComparisonTable(c);
    expect(table).toContain("Learning rates (rule 'best'):");
    expect(table).toMatch(/^egb\s+0\.1\s+40\.00\s+s0 s1\s+s0 70\.00, s1 80\.00\s+s0 diverged at 150, s1 80\.00\s+yes$/m);
    expect(table).toMatch(/^softmax\s+0\.1\s+50\.00\s+s0 s1\s+s0 50\.00, s1 50\.00, s2 90\.00\s+s0 45\.00, s1 40\.00, s2 90\.00\s*$/m);
    expect(table).toContain("Target: 95.0% of softmax's best val mIoU at lr 0.01 60.00% (mean of 2 seeds) = 57.00% mIoU");
    expect(table).toMatch(/^egb\s+0\.1\s+2\s+80\.00\s+80\.00\s+100\s+1\/2\s+1\/2: s0 at 150\s+10\.0 s\s+\+50\.0%\s+\+50\.0%$/m);
    expect(table).toMatch(/^egb\s+0\.1\s+s0\s+70\.00 \(\d+\)\s+diverged at 150\s+never\s+-$/m);
    const md = formatComparisonMarkdown(c);
    expect(md).toContain('| `egb` | 0.1 | 40.00 | s0 s1 | s0 70.00, s1 80.00 | s0 diverged at 150, s1 80.00 | yes |');
    // JSON keys are camelCase.
    const json = JSON.stringify(c);
    expect(json).not.toMatch(/"[a-z]+_[a-z_]+":/);
    expect(json).toContain('"divergedAt":150');
  });

  it("rule 'auc': the area under the val mIoU curve picks other lrs; without a selection a baseline with several lrs is refused", () => {
    const c = compareTraces(gridRows(), { select: 'best-lr', selectBy: 'auc' });
    const grid = c.selection?.grid ?? [];
    expect(grid.map((e) => e.score)).toEqual([0.25, 0.35625, 0.125, 0.3625].map((v) => expect.closeTo(v, 12)));
    expect(c.heads.map((h) => [h.head, h.lr, h.seeds])).toEqual([
      ['softmax', 0.1, 3],
      ['egb', 0.1, 2],
    ]);
    expect(c.selection?.description).toMatch(/area under/);
    expect(() => compareTraces(gridRows())).toThrow(/baseline 'softmax' ran at 2 learning rates \(0\.01, 0\.1\): pass --select best-lr/);
  });
});
