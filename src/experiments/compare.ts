/**
 * Convergence comparison of the runs in a trace.csv (the paper's measure).
 *
 * A configuration is a head at a learning rate. Per run (head, lr, seed): best val mIoU (max
 * over its evaluations), final val mIoU (its last evaluation), and the first evaluated
 * iteration whose mIoU reaches the threshold
 *   threshold = target * mean over seeds of the baseline's best mIoU
 * (with its cumulative training seconds). A run whose loss became non-finite is diverged at
 * that iteration: it never reaches the threshold, its best mIoU (before divergence) is kept
 * per run, and it is left out of the means of best and final mIoU. Per configuration: mean
 * and sample standard deviation (n - 1; null for one seed) over the runs that did not
 * diverge. Iterations and seconds to the threshold are means over the seeds that reached it
 * (`reached` says how many; null when none did), so a head whose slow seeds never got there
 * looks faster than it is: read `reached` beside them.
 *   speedupPct     = 100 * (1 - itersToTarget / baseline itersToTarget)
 *   wallSpeedupPct = 100 * (1 - wallToTarget / baseline wallToTarget)
 * Positive = reached the threshold sooner than the baseline. mIoU values are fractions.
 *
 * With `select: 'best-lr'` each head is compared at one lr of its grid, chosen by a rule:
 *   best: the highest mean over seeds of each run's best val mIoU;
 *   auc:  the highest mean over seeds of the area under the run's val mIoU curve (trapezoids
 *         from (0, 0) through its evaluations), divided by the grid's last iteration.
 * Diverged runs score 0 under `best`; under `auc` their area stops where they diverged. The
 * mean is over the seeds that every lr of the head ran (all seeds where none is common), so
 * extra seeds at the selected lr do not change the choice. Ties go to the smaller lr.
 */
import { SegError, expectedOneOf } from '../core/errors.js';
import { configLabel, divergedAt, groupTraceConfigs, type TraceConfigRuns, type TraceCsvRow } from './trace-csv.js';
import { mean, sampleStd } from '../core/numbers.js';

export const DEFAULT_COMPARE_TARGET = 0.95;
export const DEFAULT_BASELINE_HEAD = 'softmax';
export const LR_SELECTION_RULES = ['best', 'auc'] as const;
export type LrSelectionRule = (typeof LR_SELECTION_RULES)[number];

/** mIoU reaching the threshold up to float rounding counts (threshold is a product of means). */
const REACH_TOLERANCE = 1e-9;

export interface CompareOptions {
  /** Fraction of the baseline's mean best mIoU to reach (default 0.95). */
  target?: number;
  /** Head to measure against (default: the head named 'softmax'). */
  baseline?: string;
  /** 'best-lr': compare each head at the lr its grid selects (see `selectBy`). */
  select?: 'best-lr';
  /** Rule of the lr selection (default 'best'). */
  selectBy?: LrSelectionRule;
}

export interface RunComparison {
  seed: number;
  /** Last logged iteration of the run. */
  lastIter: number;
  /** Number of evaluations (rows with val_miou). */
  evaluations: number;
  bestMIoU: number | null;
  bestIter: number | null;
  finalMIoU: number | null;
  finalIter: number | null;
  /** First evaluated iteration with val mIoU >= threshold; null if never (always null for a diverged run). */
  itersToTarget: number | null;
  wallToTarget: number | null;
  /** Iteration at which the loss became non-finite; null if the run did not diverge. */
  divergedAt: number | null;
}

export interface HeadComparison {
  head: string;
  /** Base learning rate of the runs; null when trace.csv does not record it. */
  lr: number | null;
  /** Number of runs (seeds) of this head at this lr. */
  seeds: number;
  /** Runs that diverged. */
  diverged: number;
  bestMIoU: number | null;
  bestMIoUStd: number | null;
  finalMIoU: number | null;
  finalMIoUStd: number | null;
  /** Mean over the seeds that reached the threshold; null if none did. */
  itersToTarget: number | null;
  itersToTargetStd: number | null;
  wallToTarget: number | null;
  wallToTargetStd: number | null;
  /** Seeds that reached the threshold. */
  reached: number;
  speedupPct: number | null;
  wallSpeedupPct: number | null;
  runs: RunComparison[];
}

export interface GridEntry {
  head: string;
  lr: number | null;
  /** Seeds whose runs make the score. */
  scoredSeeds: number[];
  /** The rule's score (a fraction); null when no run was evaluated. */
  score: number | null;
  selected: boolean;
  /** Every run of this head at this lr. */
  runs: RunComparison[];
}

export interface LrSelection {
  rule: LrSelectionRule;
  /** The rule in words. */
  description: string;
  /** Every (head, lr) of the trace: heads in order of appearance, lrs ascending. */
  grid: GridEntry[];
}

export interface Comparison {
  target: number;
  baseline: string;
  /** The baseline's lr (selected, or its only one). */
  baselineLr: number | null;
  /** Mean over seeds of the baseline's best val mIoU. */
  baselineBestMIoU: number;
  threshold: number;
  /** Null unless compared with select 'best-lr'. */
  selection: LrSelection | null;
  /** One entry per head and lr (per head at its selected lr with a selection), in order of first appearance. */
  heads: HeadComparison[];
  /** Things a reader should know (unevaluated runs, differing seed sets, diverged runs). */
  notes: string[];
}

function speedup(head: number | null, base: number | null): number | null {
  if (head === null || base === null || base <= 0) return null;
  return 100 * (1 - head / base);
}

function summariseRun(seed: number, run: readonly TraceCsvRow[], threshold: number): RunComparison {
  const diverged = divergedAt(run);
  const evals = run.filter((r) => r.val_miou !== null && (diverged === null || r.iter < diverged));
  let best: TraceCsvRow | undefined;
  for (const r of evals) if (best === undefined || (r.val_miou as number) > (best.val_miou as number)) best = r;
  const last = evals[evals.length - 1];
  const hit = diverged === null ? evals.find((r) => (r.val_miou as number) >= threshold - REACH_TOLERANCE) : undefined;
  return {
    seed,
    lastIter: run[run.length - 1]?.iter ?? 0,
    evaluations: evals.length,
    bestMIoU: best?.val_miou ?? null,
    bestIter: best?.iter ?? null,
    finalMIoU: diverged === null ? (last?.val_miou ?? null) : null,
    finalIter: diverged === null ? (last?.iter ?? null) : null,
    itersToTarget: hit?.iter ?? null,
    wallToTarget: hit?.wall_s ?? null,
    divergedAt: diverged,
  };
}

/** Area under a run's val mIoU curve from (0, 0), divided by `span` iterations; 0 after divergence. */
export function runAreaUnderCurve(run: readonly TraceCsvRow[], span: number): number | null {
  const diverged = divergedAt(run);
  const evals = run.filter((r) => r.val_miou !== null && (diverged === null || r.iter < diverged));
  if (evals.length === 0) return diverged === null ? null : 0;
  let area = 0;
  let px = 0;
  let py = 0;
  for (const r of evals) {
    area += ((r.iter - px) * (py + (r.val_miou as number))) / 2;
    px = r.iter;
    py = r.val_miou as number;
  }
  return span > 0 ? area / span : null;
}

function present(values: ReadonlyArray<number | null>): number[] {
  return values.filter((v): v is number => v !== null);
}

function summariseConfig(config: TraceConfigRuns, threshold: number): HeadComparison {
  const summaries = [...config.seeds.entries()].map(([seed, run]) => summariseRun(seed, run, threshold));
  const alive = summaries.filter((s) => s.divergedAt === null);
  const bests = present(alive.map((s) => s.bestMIoU));
  const finals = present(alive.map((s) => s.finalMIoU));
  const iters = present(summaries.map((s) => s.itersToTarget));
  const walls = present(summaries.map((s) => s.wallToTarget));
  return {
    head: config.head,
    lr: config.lr,
    seeds: summaries.length,
    diverged: summaries.length - alive.length,
    bestMIoU: mean(bests),
    bestMIoUStd: sampleStd(bests),
    finalMIoU: mean(finals),
    finalMIoUStd: sampleStd(finals),
    itersToTarget: mean(iters),
    itersToTargetStd: sampleStd(iters),
    wallToTarget: mean(walls),
    wallToTargetStd: sampleStd(walls),
    reached: iters.length,
    speedupPct: null,
    wallSpeedupPct: null,
    runs: summaries,
  };
}

export function describeLrRule(rule: LrSelectionRule): string {
  return rule === 'best'
    ? "each head at the lr with the highest mean over seeds of the runs' best val mIoU (a diverged run scores 0)"
    : "each head at the lr with the highest mean over seeds of the area under the run's val mIoU curve per iteration (a diverged run's area stops where it diverged)";
}

/** Scores every (head, lr) and marks each head's best; see the module comment for the rules. */
export function selectLearningRates(configs: readonly TraceConfigRuns[], rule: LrSelectionRule): LrSelection {
  const span = Math.max(0, ...configs.flatMap((c) => [...c.seeds.values()].map((run) => run[run.length - 1]?.iter ?? 0)));
  const grid: GridEntry[] = [];
  const heads = [...new Set(configs.map((c) => c.head))];
  for (const head of heads) {
    const mine = configs.filter((c) => c.head === head);
    const seedSets = mine.map((c) => new Set(c.seeds.keys()));
    const common = [...(seedSets[0] ?? new Set<number>())].filter((s) => seedSets.every((set) => set.has(s)));
    const entries = mine.map((c): GridEntry => {
      const scored = common.length > 0 ? common : [...c.seeds.keys()];
      const scores = scored.map((seed) => {
        const run = c.seeds.get(seed) as TraceCsvRow[];
        if (rule === 'auc') return runAreaUnderCurve(run, span);
        const s = summariseRun(seed, run, Infinity);
        return s.divergedAt !== null ? 0 : s.bestMIoU;
      });
      return {
        head,
        lr: c.lr,
        scoredSeeds: [...scored].sort((a, b) => a - b),
        score: mean(present(scores)),
        selected: false,
        runs: [...c.seeds.entries()].map(([seed, run]) => summariseRun(seed, run, Infinity)),
      };
    });
    let best: GridEntry | undefined;
    for (const e of entries) if (e.score !== null && (best === undefined || e.score > (best.score as number))) best = e;
    if (best !== undefined) best.selected = true;
    grid.push(...entries);
  }
  return { rule, description: describeLrRule(rule), grid };
}

/** The comparison of every head against the baseline; see the module comment for the definitions. */
export function compareTraces(rows: readonly TraceCsvRow[], options: CompareOptions = {}): Comparison {
  const target = options.target ?? DEFAULT_COMPARE_TARGET;
  if (!Number.isFinite(target) || target <= 0) {
    throw new SegError(`--target: got ${target}, expected a number > 0 (a fraction of the baseline's best mIoU, e.g. 0.95)`, '--target');
  }
  const all = groupTraceConfigs(rows);
  const headNames = [...new Set(all.map((c) => c.head))];
  if (headNames.length === 0)
    throw new SegError('trace.csv has no rows: run seg trace (and let it log at least one iteration) first', 'trace.csv');
  const baseline = options.baseline ?? DEFAULT_BASELINE_HEAD;
  if (!headNames.includes(baseline)) {
    if (options.baseline !== undefined) throw expectedOneOf('--baseline', baseline, headNames);
    throw new SegError(
      `no head named '${DEFAULT_BASELINE_HEAD}' in the trace (heads: ${headNames.join(', ')}); choose the reference with --baseline HEAD`,
      '--baseline',
    );
  }
  const notes: string[] = [];
  let selection: LrSelection | null = null;
  let compared: TraceConfigRuns[] = all;
  if (options.select === 'best-lr') {
    selection = selectLearningRates(all, options.selectBy ?? 'best');
    const chosen = selection.grid.filter((e) => e.selected);
    for (const head of headNames) {
      if (!chosen.some((e) => e.head === head)) notes.push(`${head}: no lr of its grid has an evaluation yet; left out of the comparison`);
    }
    compared = all.filter((c) => chosen.some((e) => e.head === c.head && e.lr === c.lr));
  } else {
    const baseLrs = all.filter((c) => c.head === baseline);
    if (baseLrs.length > 1) {
      throw new SegError(
        `baseline '${baseline}' ran at ${baseLrs.length} learning rates (${baseLrs.map((c) => c.lr).join(', ')}): pass --select best-lr to compare each head at its best lr`,
        '--select',
      );
    }
  }
  const baseConfig = compared.find((c) => c.head === baseline);
  const baseBests =
    baseConfig === undefined
      ? []
      : summariseConfig(baseConfig, Infinity)
          .runs.filter((r) => r.divergedAt === null)
          .map((r) => r.bestMIoU);
  const baselineBest = mean(present(baseBests));
  if (baseConfig === undefined || baselineBest === null) {
    throw new SegError(
      `baseline head '${baseline}' has no evaluations (val_miou) from a run that did not diverge: trace with --eval-every so runs are evaluated, or choose another --baseline`,
      '--baseline',
    );
  }
  const threshold = target * baselineBest;
  const heads = compared.map((c) => summariseConfig(c, threshold));
  for (const h of heads) {
    const label = configLabel(h.head, h.lr);
    const unevaluated = h.runs.filter((s) => s.evaluations === 0 && s.divergedAt === null).map((s) => s.seed);
    if (unevaluated.length > 0)
      notes.push(
        `${label}: ${unevaluated.length === 1 ? 'seed' : 'seeds'} ${unevaluated.join(', ')} ${unevaluated.length === 1 ? 'has' : 'have'} no evaluation yet and are left out of the mIoU means`,
      );
    const diverged = h.runs.filter((s) => s.divergedAt !== null);
    if (diverged.length > 0) {
      notes.push(
        `${label}: ${diverged.map((s) => `seed ${s.seed} diverged at iteration ${s.divergedAt}`).join(', ')} (never reaches the target; left out of the mIoU means)`,
      );
    }
  }
  const base = heads.find((h) => h.head === baseline) as HeadComparison;
  for (const h of heads) {
    h.speedupPct = speedup(h.itersToTarget, base.itersToTarget);
    h.wallSpeedupPct = speedup(h.wallToTarget, base.wallToTarget);
  }
  const seedSets = new Set(heads.map((h) => h.runs.map((r) => r.seed).join(',')));
  if (seedSets.size > 1) notes.push('heads were traced with different seeds: compare with care');
  return { target, baseline, baselineLr: base.lr, baselineBestMIoU: baselineBest, threshold, selection, heads, notes };
}
