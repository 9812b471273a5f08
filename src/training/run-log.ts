/**
 * `trace.jsonl` of a run: one JSON object per line (camelCase keys), a `train` row per
 * logging step, an `eval` row per evaluation, a `best` row per new best evaluation
 * (`saveBest`), and an `extend` row where a resumed run was given more iterations. On resume, rows past the checkpoint's iteration (written after the
 * last save, by the interrupted process) are dropped so the trace stays one history. Traces
 * written by older versions (snake_case keys) are read too.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SegError } from '../core/errors.js';
import { writeError, writeFileAtomic } from '../core/durable-files.js';
import {
  arrayOf,
  FieldError,
  integer,
  isPlainObject,
  number,
  object,
  oneOf,
  optional,
  recordOf,
  type Schema,
  string,
} from '../core/schema.js';

export interface TrainTraceRow {
  type: 'train';
  iter: number;
  /** Training wall time since the run started (evaluation excluded), seconds. */
  wallSeconds: number;
  loss: number;
  lr: number;
  /** Pixel accuracy of the batch's own predictions. */
  trainAcc: number;
  /** The gradients' global L2 norm before clipping; only in runs that clip (`clipGradNorm`). */
  gradNorm?: number;
}

export interface EvalTraceRow {
  type: 'eval';
  iter: number;
  wallSeconds: number;
  /** Metrics on the val split. */
  mIoU: number | null;
  aAcc: number | null;
  classIoU: Record<string, number | null>;
  images: number;
  /** Pixel counts, rows: ground-truth class, columns: predicted class (class order of classIoU); absent in older traces. */
  confusionMatrix?: number[][];
}

/** A resumed run given more iterations: from here the poly schedule runs over `toIters`. */
export interface ExtendTraceRow {
  type: 'extend';
  iter: number;
  fromIters: number;
  toIters: number;
}

/** Written when a run starts or resumes: what computes it. */
export interface StartTraceRow {
  type: 'start';
  iter: number;
  backend: string;
  /** The GPU adapter on webgpu, else null. */
  adapter: string | null;
}

/** Webgpu: from this step on, steps of this batch shape are replayed from a captured step, or run eagerly (and why). */
export interface CaptureTraceRow {
  type: 'capture';
  iter: number;
  mode: 'replay' | 'eager';
  /** The batch shape [N, H, W]. */
  shape: number[];
  reason?: string;
}

/** A new best evaluation (`saveBest`), saved as `<run>/best/`. */
export interface BestTraceRow {
  type: 'best';
  iter: number;
  /** The metric ranked by (`mIoU`, `aAcc`, ...) and its value at this evaluation. */
  metric: string;
  value: number;
  /** The best value before this one (null: the first). */
  previous: number | null;
}

export type TraceRow = TrainTraceRow | EvalTraceRow | ExtendTraceRow | StartTraceRow | CaptureTraceRow | BestTraceRow;

export const TRACE_FILE = 'trace.jsonl';

export function tracePath(runDir: string): string {
  return join(runDir, TRACE_FILE);
}

/** Keys of traces written before the camelCase convention, and their names now. */
const LEGACY_KEYS: Readonly<Record<string, string>> = {
  wall_s: 'wallSeconds',
  train_acc: 'trainAcc',
  val_miou: 'mIoU',
  val_aacc: 'aAcc',
  class_iou: 'classIoU',
};

/** A number, or null (JSON's NaN) read as NaN. */
const numberOrNaN: Schema<number> = (v, field) => (v === null ? Number.NaN : number()(v, field));
const metric: Schema<number | null> = (v, field) => (v === null ? null : number({ min: 0, max: 1 })(v, field));
const iter = integer({ min: 0 });

const ROW_SCHEMAS = {
  train: object<TrainTraceRow>({
    type: oneOf(['train']),
    iter,
    wallSeconds: number({ min: 0 }),
    loss: numberOrNaN,
    lr: number({ min: 0 }),
    trainAcc: numberOrNaN,
    gradNorm: optional(numberOrNaN),
  }),
  eval: object<EvalTraceRow>({
    type: oneOf(['eval']),
    iter,
    wallSeconds: number({ min: 0 }),
    mIoU: metric,
    aAcc: metric,
    classIoU: recordOf(metric),
    images: integer({ min: 0 }),
    confusionMatrix: optional(arrayOf(arrayOf(integer({ min: 0 })))),
  }),
  extend: object<ExtendTraceRow>({ type: oneOf(['extend']), iter, fromIters: integer({ min: 1 }), toIters: integer({ min: 1 }) }),
  capture: object<CaptureTraceRow>({
    type: oneOf(['capture']),
    iter,
    mode: oneOf(['replay', 'eager']),
    shape: arrayOf(integer({ min: 1 })),
    reason: optional(string()),
  }),
  best: object<BestTraceRow>({
    type: oneOf(['best']),
    iter,
    metric: string({ nonEmpty: true }),
    value: number(),
    previous: (v, field) => (v === null ? null : number()(v, field)),
  }),
  start: object<StartTraceRow>({
    type: oneOf(['start']),
    iter,
    backend: string(),
    adapter: (v, field) => (v === null ? null : string()(v, field)),
  }),
} as const;

/** A parsed row with legacy keys renamed, every field checked; undefined for a row type this version does not know. */
export function parseTraceRow(value: unknown): TraceRow | undefined {
  if (!isPlainObject(value)) throw new FieldError('(row)', 'expected a JSON object');
  const renamed: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) renamed[LEGACY_KEYS[k] ?? k] = v;
  const type = renamed['type'];
  if (type !== 'train' && type !== 'eval' && type !== 'extend' && type !== 'start' && type !== 'capture' && type !== 'best')
    return undefined;
  return ROW_SCHEMAS[type](renamed, '');
}

/** All rows of a run's trace (missing file: none). */
export function readTrace(runDir: string): TraceRow[] {
  const file = tracePath(runDir);
  if (!existsSync(file)) return [];
  const rows: TraceRow[] = [];
  const lines = readFileSync(file, 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).trim();
    if (line === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      // A line cut by a crash mid-write is the only expected damage: skip only a last line.
      if (i >= lines.length - 2) continue;
      throw new SegError(`${file}: line ${i + 1} is not JSON; the trace is damaged (delete the line to continue)`, file);
    }
    try {
      const row = parseTraceRow(parsed);
      if (row !== undefined) rows.push(row);
    } catch (err) {
      const what = err instanceof FieldError ? `${err.field}: ${err.problem}` : String(err);
      throw new SegError(`${file}: line ${i + 1} is not a trace row (${what}); the trace is damaged (delete the line to continue)`, file);
    }
  }
  return rows;
}

/** The error for a run folder that disappeared under a training run: nothing can be saved there any more. */
export function runFolderRemoved(runDir: string, iteration: number): SegError {
  return new SegError(
    `${runDir}: the run folder was removed while the run trained (found at iteration ${iteration}); training stopped, ` +
      'nothing was saved. Train again into a new folder, or restore this one and resume it',
    runDir,
  );
}

export class TraceWriter {
  readonly file: string;

  /** `fromIteration`: the checkpoint's iteration; later rows are dropped (and old rows rewritten in camelCase). */
  constructor(
    private readonly runDir: string,
    fromIteration: number,
  ) {
    this.file = tracePath(runDir);
    if (existsSync(this.file)) {
      const kept = readTrace(runDir).filter((r) => r.iter <= fromIteration);
      writeFileAtomic(this.file, kept.map((r) => JSON.stringify(r) + '\n').join(''));
    }
  }

  append(row: TraceRow): void {
    try {
      appendFileSync(this.file, JSON.stringify(row) + '\n');
    } catch (err) {
      if (!existsSync(this.runDir)) throw runFolderRemoved(this.runDir, row.iter);
      throw writeError(this.file, err);
    }
  }
}
