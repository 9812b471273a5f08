/**
 * Convergence traces: one training run per (head, seed), every head of a seed starting from
 * the same initial weights and seeing the same batches and augmentations (all drawn from the
 * seed, none from the head), val mIoU every K iterations. Runs live in `<dir>/<head>-s<seed>/`;
 * `<dir>/trace.csv` gathers them. An interrupted trace resumes: finished runs are skipped,
 * a partial run continues from its checkpoint.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { SegError } from '../core/errors.js';
import { headSlug, parseHeadSpec } from '../heads/head-spec.js';
import { openDataset } from '../voc/dataset.js';
import { readTrace } from '../training/run-log.js';
import { writeTraceCsv, type TraceCsvRow } from './trace-csv.js';
import { readCheckpointConfig } from '../checkpoint/checkpoint.js';
import { benchmarkModel } from '../bench/model-benchmark.js';
import { runCheckpointDir, runCheckpointExists } from '../checkpoint/run-layout.js';
import { TRAIN_CONFIG_SHAPE, type TrainConfig } from '../training/train-config.js';
import { arrayOf, integer, object, parse, string, type Schema } from '../core/schema.js';
import { readJsonFile } from '../checkpoint/checkpoint-config.js';
import { train, type TrainHooks } from '../training/trainer.js';
import { writeJsonAtomic } from '../core/durable-files.js';

export interface TraceOptions {
  /** Head specs as the user wrote them (e.g. 'softmax', 'egb', 'egb:pow3'). */
  heads: string[];
  seeds: number[];
  /** Trace folder. */
  out: string;
  /** Training arguments shared by every run (head, seed and out are set per run). */
  base: Omit<TrainConfig, 'head' | 'seed' | 'out'>;
}

export interface TraceRunInfo {
  head: string;
  seed: number;
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

export function traceRunDir(out: string, head: string, seed: number): string {
  return join(out, `${headSlug(head)}-s${seed}`);
}

interface TraceManifest {
  heads: string[];
  seeds: number[];
  base: Omit<TrainConfig, 'head' | 'seed' | 'out'>;
}

const MANIFEST = 'trace.json';

const { head: _head, seed: _seed, out: _out, ...BASE_SHAPE } = TRAIN_CONFIG_SHAPE;
const MANIFEST_SCHEMA: Schema<TraceManifest> = object<TraceManifest>({
  heads: arrayOf(string({ nonEmpty: true })),
  seeds: arrayOf(integer({ min: 0, max: 2 ** 32 - 1 })),
  base: object<TraceManifest['base']>(BASE_SHAPE),
});

/** The trace's arguments are fixed by its first invocation: a resumed trace must match them. */
function checkManifest(options: TraceOptions): void {
  const file = join(options.out, MANIFEST);
  const current: TraceManifest = { heads: options.heads, seeds: options.seeds, base: options.base };
  if (existsSync(file)) {
    const saved = parse(MANIFEST_SCHEMA, readJsonFile(file), { file });
    const differing = (Object.keys(BASE_SHAPE) as (keyof TraceManifest['base'])[]).filter(
      (k) => JSON.stringify(saved.base[k]) !== JSON.stringify(current.base[k]),
    );
    if (differing.length > 0) {
      const what = differing.map((k) => `${k}: ${JSON.stringify(saved.base[k])} before, ${JSON.stringify(current.base[k])} now`).join('; ');
      throw new SegError(`--out ${options.out}: this trace was started with other training arguments (${what}); use the same flags to resume it, or another --out`, '--out');
    }
  }
  const merged: TraceManifest = { ...current };
  writeJsonAtomic(file, merged);
}

/** Rows of trace.csv for one run, from its trace.jsonl. */
export function runCsvRows(dir: string, head: string, seed: number): TraceCsvRow[] {
  const rows: TraceCsvRow[] = [];
  const evals = new Map<number, number | null>();
  const trace = readTrace(dir);
  for (const r of trace) if (r.type === 'eval') evals.set(r.iter, r.mIoU);
  for (const r of trace) {
    if (r.type !== 'train') continue;
    rows.push({
      head,
      seed,
      iter: r.iter,
      wall_s: r.wallSeconds,
      loss: r.loss,
      train_acc: Number.isFinite(r.trainAcc) ? r.trainAcc : null,
      val_miou: evals.get(r.iter) ?? null,
    });
  }
  return rows;
}

async function warmUp(base: TraceOptions['base'], numClasses: number): Promise<void> {
  await benchmarkModel('train', {
    model: { backbone: base.backbone, outputStride: base.outputStride, width: base.width, numClasses, multiGrid: base.multiGrid },
    size: base.crop,
    batch: base.batch,
    steps: 1,
    warmup: 0,
  });
}

function runFinished(dir: string, iters: number): boolean {
  if (!runCheckpointExists(dir)) return false;
  return readCheckpointConfig(runCheckpointDir(dir)).iteration >= iters;
}

export async function runTrace(options: TraceOptions, hooks: TraceHooks = {}): Promise<TraceResult> {
  const log = hooks.log ?? (() => undefined);
  if (options.seeds.length === 0) throw new SegError('--seeds: expected at least one seed', '--seeds');
  const numClasses = openDataset(options.base.data).classNames.length;
  for (const head of options.heads) {
    try {
      parseHeadSpec(head, numClasses); // fail early on a bad spec
    } catch (err) {
      throw err instanceof SegError ? new SegError(`--heads: ${err.message.replace(/^--head: /, '')}`, '--heads') : err;
    }
  }
  if (options.base.evalEvery <= 0) throw new SegError('--eval-every: a trace needs val mIoU during training; pass --eval-every K > 0', '--eval-every');
  mkdirSync(options.out, { recursive: true });
  checkManifest(options);
  const runs: TraceRunInfo[] = [];
  for (const seed of options.seeds) {
    for (const head of options.heads) {
      runs.push({ head, seed, dir: traceRunDir(options.out, head, seed), index: runs.length + 1, total: options.heads.length * options.seeds.length });
    }
  }
  const csv = join(options.out, 'trace.csv');
  const writeCsv = (): void => writeTraceCsv(csv, runs.flatMap((r) => (existsSync(r.dir) ? runCsvRows(r.dir, r.head, r.seed) : [])));
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
      log(`run ${run.index}/${run.total}: ${run.head} seed ${run.seed} already finished`);
      continue;
    }
    const resume = runCheckpointExists(run.dir);
    log(`run ${run.index}/${run.total}: ${run.head} seed ${run.seed} -> ${run.dir}${resume ? ' (resuming)' : ''}`);
    const result = await train(
      { ...options.base, head: run.head, seed: run.seed, out: run.dir },
      { ...(hooks.runHooks?.(run) ?? {}), ...(hooks.signal !== undefined ? { signal: hooks.signal } : {}), resume },
    );
    result.model.dispose();
    writeCsv();
    if (result.interrupted) {
      interrupted = true;
      break;
    }
  }
  writeCsv();
  return { out: options.out, runs, csv, interrupted };
}
