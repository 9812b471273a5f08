/**
 * Convergence traces: one training run per (head, seed), or per (head, lr, seed) with a
 * learning-rate grid; every run of a seed starts from the same initial weights and sees the
 * same batches and augmentations (all drawn from the seed, none from the head or the lr),
 * val mIoU every K iterations. Runs live in `<dir>/<head>-s<seed>/` (`<dir>/<head>-lr<lr>-s<seed>/`
 * with a grid); `<dir>/trace.csv` gathers them. An interrupted trace resumes: finished runs are
 * skipped, a partial run continues from its checkpoint. A run whose loss becomes non-finite is
 * kept as diverged (`diverged.json` in its folder, a last trace.csv row with the non-finite
 * loss) and the trace goes on with the next run.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { SegError } from '../core/errors.js';
import { lockRunFolder } from '../core/run-lock.js';
import { makeFolder } from '../core/folders.js';
import { headSlug, parseHeadSpec } from '../heads/head-spec.js';
import { openDataset } from '../datasets/open-dataset.js';
import { readTrace, tracePath, type TrainTraceRow } from '../training/run-log.js';
import { writeTraceCsv, type TraceCsvRow } from './trace-csv.js';
import { readCheckpointConfig } from '../checkpoint/checkpoint.js';
import { benchmarkModel } from '../bench/model-benchmark.js';
import { runCheckpointDir, runCheckpointExists } from '../checkpoint/run-layout.js';
import { FLAT_TRAIN_CONFIG_SHAPE, nestTrainConfig, sharedRunModelConfig, type SharedTrainSettings } from '../training/train-config.js';
import { arrayOf, integer, number, object, optional, parse, string, type Schema } from '../core/schema.js';
import { readJsonFile } from '../checkpoint/checkpoint-config.js';
import { train, type TrainHooks } from '../training/trainer.js';
import { NonFiniteError, type NonFiniteKind } from '../training/non-finite-error.js';
import { writeJsonAtomic } from '../core/durable-files.js';

export interface TraceOptions {
  /** Head specs as the user wrote them (e.g. 'softmax', 'egb', 'egb:pow3'). */
  heads: string[];
  seeds: number[];
  /** Learning-rate grid: every head runs at every lr. Absent: one run per head at `base.lr`. */
  lrs?: number[];
  /** Trace folder. */
  out: string;
  /** Training arguments shared by every run (head, seed and out are set per run). */
  base: SharedTrainSettings;
}

export interface TraceRunInfo {
  head: string;
  seed: number;
  lr: number;
  dir: string;
  index: number;
  total: number;
}

export interface TraceHooks {
  log?: (line: string) => void;
  signal?: AbortSignal;
  /** Per-run hooks (progress of the run being trained). */
  runHooks?: (run: TraceRunInfo) => Omit<TrainHooks, 'signal' | 'resume'>;
}

export interface TraceResult {
  out: string;
  runs: TraceRunInfo[];
  csv: string;
  interrupted: boolean;
}

// A comma starts a new head unless a parameter (key=value) follows it.
const HEAD_START = /,(?!\s*\w+=)/;

/** Split `--heads softmax,egb:exp:alpha=0.3,beta=0,linear` at the commas that start a new head. */
export function splitHeadList(text: string): string[] {
  const heads = text
    .split(HEAD_START)
    .map((h) => h.trim())
    .filter((h) => h !== '');
  if (heads.length === 0) throw new SegError(`--heads: got '${text}', expected a comma-separated list such as softmax,egb`, '--heads');
  const seen = new Set<string>();
  for (const h of heads) {
    if (seen.has(h)) throw new SegError(`--heads: '${h}' is listed twice`, '--heads');
    seen.add(h);
  }
  return heads;
}

/** A run's folder: `<head>-s<seed>`, or `<head>-lr<lr>-s<seed>` when the trace has an lr grid. */
export function traceRunDir(out: string, head: string, seed: number, lr?: number): string {
  return join(out, lr === undefined ? `${headSlug(head)}-s${seed}` : `${headSlug(head)}-lr${lr}-s${seed}`);
}

/** Parses `--lrs 0.01,0.03,0.1`: distinct positive numbers. */
export function parseLrList(text: string): number[] {
  const lrs = text.split(',').map((s) => s.trim());
  const values = lrs.map((s) => {
    const n = Number(s);
    if (s === '' || !Number.isFinite(n) || n <= 0)
      throw new SegError(`--lrs: got '${text}', expected comma-separated learning rates > 0 such as 0.01,0.03,0.1`, '--lrs');
    return n;
  });
  const seen = new Set<number>();
  for (const v of values) {
    if (seen.has(v)) throw new SegError(`--lrs: ${v} is listed twice`, '--lrs');
    seen.add(v);
  }
  return values;
}

interface TraceManifest {
  heads: string[];
  seeds: number[];
  lrs?: number[];
  base: SharedTrainSettings;
}

/** What `diverged.json` in a run folder records. */
export interface DivergenceRecord {
  /** The iteration whose step produced the non-finite loss. */
  iteration: number;
  /** The non-finite loss (NaN or +-Infinity; written as a string in JSON). */
  loss: number;
  /** Training seconds of the run up to its last logged row before the divergence. */
  wallSeconds: number;
  message: string;
}

export const DIVERGED_FILE = 'diverged.json';

/** The divergence a training error reports (a NonFiniteError from the trainer), or null for any other error. */
export function nonFiniteDivergence(err: unknown): NonFiniteError | null {
  return err instanceof NonFiniteError ? err : null;
}

/** The iteration at which a training error says the run diverged, or null for any other error. */
export function nonFiniteIteration(err: unknown): number | null {
  return nonFiniteDivergence(err)?.iteration ?? null;
}

const DIVERGENCE_KINDS: Record<NonFiniteKind, string> = {
  loss: 'non-finite loss',
  'gradient-norm': 'non-finite gradient norm',
  weights: 'non-finite weights',
};

export function readDivergence(dir: string): DivergenceRecord | null {
  const file = join(dir, DIVERGED_FILE);
  if (!existsSync(file)) return null;
  const raw = JSON.parse(readFileSync(file, 'utf8')) as Omit<DivergenceRecord, 'loss'> & { loss: string };
  return { ...raw, loss: Number(raw.loss) };
}

function writeDivergence(dir: string, record: DivergenceRecord): void {
  writeJsonAtomic(join(dir, DIVERGED_FILE), { ...record, loss: String(record.loss) });
}

const MANIFEST = 'trace.json';

const { head: _head, seed: _seed, out: _out, ...BASE_SHAPE } = FLAT_TRAIN_CONFIG_SHAPE;
const MANIFEST_SCHEMA: Schema<TraceManifest> = object<TraceManifest>({
  heads: arrayOf(string({ nonEmpty: true })),
  seeds: arrayOf(integer({ min: 0, max: 2 ** 32 - 1 })),
  lrs: optional(arrayOf(number({ min: 0 }))),
  base: object<TraceManifest['base']>(BASE_SHAPE),
});

/** Settings that change what a run writes beside its results, not the results: free to change on resume. */
const OUTPUT_ONLY: readonly string[] = ['saveBest', 'tensorboard'];

/** The trace's arguments are fixed by its first invocation: a resumed trace must match them. */
function checkManifest(options: TraceOptions): void {
  const file = join(options.out, MANIFEST);
  const current: TraceManifest = {
    heads: options.heads,
    seeds: options.seeds,
    ...(options.lrs !== undefined ? { lrs: options.lrs } : {}),
    base: options.base,
  };
  if (existsSync(file)) {
    const saved = parse(MANIFEST_SCHEMA, readJsonFile(file), { file });
    if ((saved.lrs === undefined) !== (options.lrs === undefined)) {
      throw new SegError(
        `--out ${options.out}: this trace was started ${saved.lrs === undefined ? 'with --lr (no grid)' : 'with an --lrs grid'}; resume it the same way, or use another --out`,
        '--out',
      );
    }
    // With a grid, each run's lr comes from --lrs (which may grow); base.lr plays no part.
    const differing = (Object.keys(BASE_SHAPE) as (keyof TraceManifest['base'])[]).filter(
      (k) =>
        !(options.lrs !== undefined && k === 'lr') &&
        !OUTPUT_ONLY.includes(k) &&
        JSON.stringify(saved.base[k]) !== JSON.stringify(current.base[k]),
    );
    if (differing.length > 0) {
      const what = differing.map((k) => `${k}: ${JSON.stringify(saved.base[k])} before, ${JSON.stringify(current.base[k])} now`).join('; ');
      throw new SegError(
        `--out ${options.out}: this trace was started with other training arguments (${what}); use the same flags to resume it, or another --out`,
        '--out',
      );
    }
  }
  const merged: TraceManifest = { ...current };
  writeJsonAtomic(file, merged);
}

/**
 * Rows of trace.csv for one run, from its trace.jsonl: one per logged training step, and one
 * per evaluation at an iteration without a logged step (traces written before a step was
 * logged at every evaluation), whose loss and train_acc are empty.
 */
export function runCsvRows(dir: string, head: string, seed: number, lr: number | null = null): TraceCsvRow[] {
  const rows: TraceCsvRow[] = [];
  const evals = new Map<number, { mIoU: number | null; wallSeconds: number }>();
  const trace = readTrace(dir);
  for (const r of trace) if (r.type === 'eval') evals.set(r.iter, { mIoU: r.mIoU, wallSeconds: r.wallSeconds });
  const logged = new Set<number>();
  for (const r of trace) {
    if (r.type !== 'train') continue;
    logged.add(r.iter);
    rows.push({
      head,
      seed,
      iter: r.iter,
      wall_s: r.wallSeconds,
      loss: r.loss,
      train_acc: Number.isFinite(r.trainAcc) ? r.trainAcc : null,
      val_miou: evals.get(r.iter)?.mIoU ?? null,
      lr,
    });
  }
  for (const [iter, e] of evals) {
    if (!logged.has(iter)) rows.push({ head, seed, iter, wall_s: e.wallSeconds, loss: null, train_acc: null, val_miou: e.mIoU, lr });
  }
  rows.sort((a, b) => a.iter - b.iter);
  const diverged = readDivergence(dir);
  if (diverged !== null) {
    const kept = rows.filter((r) => r.iter < diverged.iteration);
    kept.push({
      head,
      seed,
      iter: diverged.iteration,
      wall_s: diverged.wallSeconds,
      loss: diverged.loss,
      train_acc: null,
      val_miou: null,
      lr,
    });
    return kept;
  }
  return rows;
}

async function warmUp(base: TraceOptions['base'], numClasses: number): Promise<void> {
  await benchmarkModel('train', {
    model: sharedRunModelConfig(base, numClasses),
    size: base.crop,
    batch: base.batch,
    steps: 1,
    warmup: 0,
  });
}

/** Whether the run in `dir` has trained `iters` iterations, or diverged (then it is over too). */
export function runFinished(dir: string, iters: number): boolean {
  if (readDivergence(dir) !== null) return true;
  if (!runCheckpointExists(dir)) return false;
  return readCheckpointConfig(runCheckpointDir(dir)).iteration >= iters;
}

export async function runTrace(options: TraceOptions, hooks: TraceHooks = {}): Promise<TraceResult> {
  if (options.seeds.length === 0) throw new SegError('--seeds: expected at least one seed', '--seeds');
  if (options.lrs !== undefined && options.lrs.length === 0) throw new SegError('--lrs: expected at least one learning rate', '--lrs');
  const numClasses = openDataset(options.base.data, options.base.layout).classNames.length;
  for (const head of options.heads) {
    try {
      parseHeadSpec(head, numClasses); // fail early on a bad spec
    } catch (err) {
      throw err instanceof SegError ? new SegError(`--heads: ${err.message.replace(/^--head: /, '')}`, '--heads') : err;
    }
  }
  if (options.base.evalEvery <= 0)
    throw new SegError('--eval-every: a trace needs val mIoU during training; pass --eval-every K > 0', '--eval-every');
  makeFolder(options.out, '--out');
  // The trace folder as a whole: two traces writing one trace.json/trace.csv would clobber them.
  const lock = lockRunFolder(options.out);
  try {
    checkManifest(options);
    return await runTraceRuns(options, hooks, numClasses);
  } finally {
    lock.release();
  }
}

async function runTraceRuns(options: TraceOptions, hooks: TraceHooks, numClasses: number): Promise<TraceResult> {
  const log = hooks.log ?? (() => undefined);
  const runs: TraceRunInfo[] = [];
  const grid = options.lrs;
  const lrs = grid ?? [options.base.lr];
  const total = options.heads.length * options.seeds.length * lrs.length;
  // Seed-major, then head, then lr: a head's whole grid for a seed finishes before the next head.
  for (const seed of options.seeds) {
    for (const head of options.heads) {
      for (const lr of lrs) {
        runs.push({
          head,
          seed,
          lr,
          dir: traceRunDir(options.out, head, seed, grid === undefined ? undefined : lr),
          index: runs.length + 1,
          total,
        });
      }
    }
  }
  const csv = join(options.out, 'trace.csv');
  const writeCsv = (): void =>
    writeTraceCsv(
      csv,
      runs.flatMap((r) => (existsSync(r.dir) ? runCsvRows(r.dir, r.head, r.seed, r.lr) : [])),
    );
  const describe = (run: TraceRunInfo): string => `${run.head}${grid === undefined ? '' : ` lr ${run.lr}`} seed ${run.seed}`;
  let interrupted = false;
  // One untimed step first, so the first run's wall time does not carry one-time costs
  // (kernel compilation, allocator growth) that later runs do not pay.
  await warmUp(options.base, numClasses);
  for (const run of runs) {
    if (hooks.signal?.aborted === true) {
      interrupted = true;
      break;
    }
    if (runFinished(run.dir, options.base.iters)) {
      const diverged = readDivergence(run.dir);
      log(
        `run ${run.index}/${run.total}: ${describe(run)} already ${diverged === null ? 'finished' : `diverged at iteration ${diverged.iteration}`}`,
      );
      continue;
    }
    const resume = runCheckpointExists(run.dir);
    log(`run ${run.index}/${run.total}: ${describe(run)} -> ${run.dir}${resume ? ' (resuming)' : ''}`);
    let result: Awaited<ReturnType<typeof train>>;
    try {
      const runHooks = hooks.runHooks?.(run) ?? {};
      result = await train(
        nestTrainConfig({
          ...options.base,
          lr: run.lr,
          head: run.head,
          seed: run.seed,
          out: run.dir,
          // One TensorBoard run per trace run, side by side under the trace's folder.
          ...(options.base.tensorboard !== undefined ? { tensorboard: join(options.base.tensorboard, basename(run.dir)) } : {}),
        }),
        {
          ...runHooks,
          // trace.csv follows each evaluation, so a long run's progress can be compared before it ends.
          onEval: (row) => {
            runHooks.onEval?.(row);
            writeCsv();
          },
          ...(hooks.signal !== undefined ? { signal: hooks.signal } : {}),
          resume,
        },
      );
    } catch (err) {
      const divergence = nonFiniteDivergence(err);
      if (divergence === null) throw err;
      const { iteration, message } = divergence;
      const logged = readTrace(run.dir).filter((r): r is TrainTraceRow => r.type === 'train' && r.iter < iteration);
      writeDivergence(run.dir, {
        iteration,
        loss: divergence.what === 'loss' ? divergence.value : Number.NaN,
        wallSeconds: logged[logged.length - 1]?.wallSeconds ?? 0,
        message,
      });
      log(
        `run ${run.index}/${run.total}: ${describe(run)} diverged at iteration ${iteration} (${DIVERGENCE_KINDS[divergence.what]}); kept as diverged, going on`,
      );
      writeCsv();
      continue;
    }
    result.model.dispose();
    writeCsv();
    if (result.interrupted) {
      interrupted = true;
      break;
    }
  }
  writeCsv();
  if (!interrupted) {
    // A run's folder deleted while later runs trained (by hand, a cleanup job) must not vanish from the comparison unsaid.
    const lost = runs.filter((r) => !runFinished(r.dir, options.base.iters) || !existsSync(tracePath(r.dir)));
    const first = lost[0];
    if (first !== undefined) {
      const more = lost.length > 1 ? ` (and ${lost.length - 1} more run${lost.length > 2 ? 's' : ''})` : '';
      throw new SegError(
        `run ${first.index}/${first.total} (${describe(first)}): its folder ${first.dir} was removed while the trace ran, ` +
          `so trace.csv lacks it${more}; rerun the same command to train it again`,
        first.dir,
      );
    }
  }
  return { out: options.out, runs, csv, interrupted };
}
