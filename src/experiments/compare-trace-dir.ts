/**
 * `seg compare` on a trace folder: read DIR/trace.csv, compare (compare.ts, no file I/O), and
 * write the convergence charts beside it (convergence-chart.ts).
 */
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { SegError } from '../core/errors.js';
import { compareTraces, type CompareOptions, type Comparison } from './compare.js';
import { writeConvergenceCharts, type ConvergenceChartFiles } from './convergence-chart.js';
import { readTraceCsv, TRACE_CSV_FILE, type TraceCsvRow } from './trace-csv.js';

/** The trace folder of `path`: the folder itself, or the folder of a `trace.csv` given instead. */
export function traceDirOf(path: string): string {
  if (basename(path) === TRACE_CSV_FILE && existsSync(path) && statSync(path).isFile()) return dirname(path);
  return path;
}

/** The rows of DIR/trace.csv; a missing directory or file says to run seg trace first. */
export function loadTraceDir(dir: string): TraceCsvRow[] {
  if (existsSync(dir) && statSync(dir).isFile()) {
    throw new SegError(`${dir}: is a file; pass the trace folder (the one seg trace --out wrote, holding ${TRACE_CSV_FILE})`, dir);
  }
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

/** `seg compare` as a library call: read DIR/trace.csv, compare, write the charts (of the compared runs). */
export async function compareTraceDir(path: string, options: CompareTraceDirOptions = {}): Promise<TraceDirComparison> {
  const dir = traceDirOf(path);
  const rows = loadTraceDir(dir);
  const comparison = compareTraces(rows, options);
  const shown = rows.filter((r) => comparison.heads.some((h) => h.head === r.head && h.lr === r.lr));
  const charts = options.charts === false ? null : await writeConvergenceCharts(dir, shown, comparison);
  return { comparison, charts };
}
