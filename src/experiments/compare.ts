/**
 * Convergence comparison of the runs in a trace.csv (issue 6, the paper's measure).
 *
 * Per run (head, seed): best val mIoU (max over its evaluations), final val mIoU (its last
 * evaluation), and the first evaluated iteration whose mIoU reaches the threshold
 *   threshold = target * mean over seeds of the baseline head's best mIoU
 * (with its cumulative training seconds). Per head: mean and sample standard deviation
 * (n - 1; null for one seed) over seeds. Iterations and seconds to the threshold are means
 * over the seeds that reached it (`reached` says how many; null when none did), so a head
 * whose slow seeds never got there looks faster than it is: read `reached` beside them.
 *   speedup_pct      = 100 * (1 - iters_to_target / baseline iters_to_target)
 *   wall_speedup_pct = 100 * (1 - wall_to_target / baseline wall_to_target)
 * Positive = reached the threshold sooner than the baseline. mIoU values are fractions.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { SegError, expectedOneOf } from '../core/errors.js';
import { writeConvergenceCharts, type ConvergenceChartFiles } from './convergence-chart.js';
import { TRACE_CSV_FILE, groupTraceRuns, readTraceCsv, type TraceCsvRow } from './trace-csv.js';
import { mean, sampleStd } from '../core/numbers.js';

export const DEFAULT_COMPARE_TARGET = 0.95;
export const DEFAULT_BASELINE_HEAD = 'softmax';

/** mIoU reaching the threshold up to float rounding counts (threshold is a product of means). */
const REACH_TOLERANCE = 1e-9;

export interface CompareOptions {
  /** Fraction of the baseline's mean best mIoU to reach (default 0.95). */
  target?: number;
  /** Head to measure against (default: the head named 'softmax'). */
  baseline?: string;
}

export interface RunComparison {
  seed: number;
  /** Last logged iteration of the run. */
  last_iter: number;
  /** Number of evaluations (rows with val_miou). */
  evaluations: number;
  best_miou: number | null;
  best_iter: number | null;
  final_miou: number | null;
  final_iter: number | null;
  /** First evaluated iteration with val_miou >= threshold; null if never. */
  iters_to_target: number | null;
  wall_to_target: number | null;
}

export interface HeadComparison {
  head: string;
  /** Number of runs (seeds) of this head in the trace. */
  seeds: number;
  best_miou: number | null;
  best_miou_std: number | null;
  final_miou: number | null;
  final_miou_std: number | null;
  /** Mean over the seeds that reached the threshold; null if none did. */
  iters_to_target: number | null;
  iters_to_target_std: number | null;
  wall_to_target: number | null;
  wall_to_target_std: number | null;
  /** Seeds that reached the threshold. */
  reached: number;
  speedup_pct: number | null;
  wall_speedup_pct: number | null;
  runs: RunComparison[];
}

export interface Comparison {
  target: number;
  baseline: string;
  /** Mean over seeds of the baseline's best val mIoU. */
  baseline_best_miou: number;
  threshold: number;
  /** Heads in order of first appearance in the trace. */
  heads: HeadComparison[];
  /** Things a reader should know (unevaluated runs, differing seed sets). */
  notes: string[];
}

function speedup(head: number | null, base: number | null): number | null {
  if (head === null || base === null || base <= 0) return null;
  return 100 * (1 - head / base);
}

function summariseRun(seed: number, run: readonly TraceCsvRow[], threshold: number): RunComparison {
  const evals = run.filter((r) => r.val_miou !== null);
  let best: TraceCsvRow | undefined;
  for (const r of evals) if (best === undefined || (r.val_miou as number) > (best.val_miou as number)) best = r;
  const last = evals[evals.length - 1];
  const hit = evals.find((r) => (r.val_miou as number) >= threshold - REACH_TOLERANCE);
  return {
    seed,
    last_iter: run[run.length - 1]?.iter ?? 0,
    evaluations: evals.length,
    best_miou: best?.val_miou ?? null,
    best_iter: best?.iter ?? null,
    final_miou: last?.val_miou ?? null,
    final_iter: last?.iter ?? null,
    iters_to_target: hit?.iter ?? null,
    wall_to_target: hit?.wall_s ?? null,
  };
}

function present(values: ReadonlyArray<number | null>): number[] {
  return values.filter((v): v is number => v !== null);
}

/** The comparison of every head against the baseline; see the module comment for the definitions. */
export function compareTraces(rows: readonly TraceCsvRow[], options: CompareOptions = {}): Comparison {
  const target = options.target ?? DEFAULT_COMPARE_TARGET;
  if (!Number.isFinite(target) || target <= 0) {
    throw new SegError(`--target: got ${target}, expected a number > 0 (a fraction of the baseline's best mIoU, e.g. 0.95)`, '--target');
  }
  const runs = groupTraceRuns(rows);
  const headNames = [...runs.keys()];
  if (headNames.length === 0) throw new SegError('trace.csv has no rows: run seg trace (and let it log at least one iteration) first', 'trace.csv');
  const baseline = options.baseline ?? DEFAULT_BASELINE_HEAD;
  const baseRuns = runs.get(baseline);
  if (baseRuns === undefined) {
    if (options.baseline !== undefined) throw expectedOneOf('--baseline', baseline, headNames);
    throw new SegError(
      `no head named '${DEFAULT_BASELINE_HEAD}' in the trace (heads: ${headNames.join(', ')}); choose the reference with --baseline HEAD`,
      '--baseline',
    );
  }
  const baseBests = [...baseRuns.values()].map((run) => summariseRun(0, run, Infinity).best_miou);
  const baselineBest = mean(present(baseBests));
  if (baselineBest === null) {
    throw new SegError(`baseline head '${baseline}' has no evaluations (val_miou) in the trace: trace with --eval-every so runs are evaluated`, '--baseline');
  }
  const threshold = target * baselineBest;
  const notes: string[] = [];
  const heads: HeadComparison[] = [];
  for (const [head, seeds] of runs) {
    const summaries = [...seeds.entries()].map(([seed, run]) => summariseRun(seed, run, threshold));
    const unevaluated = summaries.filter((s) => s.evaluations === 0).map((s) => s.seed);
    if (unevaluated.length > 0) notes.push(`${head}: seed(s) ${unevaluated.join(', ')} have no evaluation yet and are left out of the mIoU means`);
    const bests = present(summaries.map((s) => s.best_miou));
    const finals = present(summaries.map((s) => s.final_miou));
    const iters = present(summaries.map((s) => s.iters_to_target));
    const walls = present(summaries.map((s) => s.wall_to_target));
    heads.push({
      head,
      seeds: summaries.length,
      best_miou: mean(bests),
      best_miou_std: sampleStd(bests),
      final_miou: mean(finals),
      final_miou_std: sampleStd(finals),
      iters_to_target: mean(iters),
      iters_to_target_std: sampleStd(iters),
      wall_to_target: mean(walls),
      wall_to_target_std: sampleStd(walls),
      reached: iters.length,
      speedup_pct: null,
      wall_speedup_pct: null,
      runs: summaries,
    });
  }
  const base = heads.find((h) => h.head === baseline) as HeadComparison;
  for (const h of heads) {
    h.speedup_pct = speedup(h.iters_to_target, base.iters_to_target);
    h.wall_speedup_pct = speedup(h.wall_to_target, base.wall_to_target);
  }
  const seedSets = new Set(heads.map((h) => h.runs.map((r) => r.seed).join(',')));
  if (seedSets.size > 1) notes.push('heads were traced with different seeds: compare with care');
  return { target, baseline, baseline_best_miou: baselineBest, threshold, heads, notes };
}

/** The rows of DIR/trace.csv; a missing directory or file says to run seg trace first. */
export function loadTraceDir(dir: string): TraceCsvRow[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new SegError(`${dir}: no such trace directory; run seg trace --out ${dir} ... first`, dir);
  }
  const file = join(dir, TRACE_CSV_FILE);
  if (!existsSync(file)) throw new SegError(`${file}: not found; run seg trace --out ${dir} ... first (it writes ${TRACE_CSV_FILE})`, file);
  return readTraceCsv(file);
}

export interface CompareTraceDirOptions extends CompareOptions {
  /** Write DIR/miou.{svg,png} and DIR/loss.{svg,png} (default true). */
  charts?: boolean;
}

export interface TraceDirComparison {
  comparison: Comparison;
  /** Null when charts were not asked for. */
  charts: ConvergenceChartFiles | null;
}

/** `seg compare` as a library call: read DIR/trace.csv, compare, write the charts. */
export async function compareTraceDir(dir: string, options: CompareTraceDirOptions = {}): Promise<TraceDirComparison> {
  const rows = loadTraceDir(dir);
  const comparison = compareTraces(rows, options);
  const charts = options.charts === false ? null : await writeConvergenceCharts(dir, rows, comparison);
  return { comparison, charts };
}
