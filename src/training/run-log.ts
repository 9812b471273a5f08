/**
 * `trace.jsonl` of a run: one JSON object per line, a `train` row per logging step and an
 * `eval` row per evaluation. On resume, rows past the checkpoint's iteration (written after
 * the last save, by the interrupted process) are dropped so the trace stays one history.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SegError } from '../core/errors.js';
import { writeFileAtomic } from '../core/durable-files.js';

export interface TrainTraceRow {
  type: 'train';
  iter: number;
  /** Training wall time since the run started (evaluation excluded), seconds. */
  wall_s: number;
  loss: number;
  lr: number;
  /** Pixel accuracy of the batch's own predictions. */
  train_acc: number;
}

export interface EvalTraceRow {
  type: 'eval';
  iter: number;
  wall_s: number;
  val_miou: number | null;
  val_aacc: number | null;
  class_iou: Record<string, number | null>;
  images: number;
}

export type TraceRow = TrainTraceRow | EvalTraceRow;

export const TRACE_FILE = 'trace.jsonl';

export function tracePath(runDir: string): string {
  return join(runDir, TRACE_FILE);
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
    try {
      rows.push(JSON.parse(line) as TraceRow);
    } catch {
      // A line cut by a crash mid-write is the only expected damage: skip only a last line.
      if (i >= lines.length - 2) continue;
      throw new SegError(`${file}: line ${i + 1} is not JSON; the trace is damaged (delete the line to continue)`, file);
    }
  }
  return rows;
}

export class TraceWriter {
  readonly file: string;

  /** `fromIteration`: the checkpoint's iteration; later rows are dropped. */
  constructor(runDir: string, fromIteration: number) {
    this.file = tracePath(runDir);
    if (existsSync(this.file)) {
      const kept = readTrace(runDir).filter((r) => r.iter <= fromIteration);
      writeFileAtomic(this.file, kept.map((r) => JSON.stringify(r) + '\n').join(''));
    }
  }

  append(row: TraceRow): void {
    appendFileSync(this.file, JSON.stringify(row) + '\n');
  }
}
