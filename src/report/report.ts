/**
 * `seg report`: one self-contained HTML page for a run folder (trace.jsonl) or a trace folder
 * (trace.csv): a trace's head comparison as `seg compare` prints it with its convergence
 * charts, then a section per run (see run-report.ts). With `data`, the run's best checkpoint
 * (else its last) is evaluated on the val split for pictures of a few val images, and for the
 * confusion matrix where the trace has none.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { runBestDir, runCheckpointDir } from '../checkpoint/run-layout.js';
import { SegError } from '../core/errors.js';
import { PACKAGE_VERSION } from '../core/version.js';
import { compareTraces, type Comparison } from '../experiments/compare.js';
import { loadTraceDir } from '../experiments/compare-trace-dir.js';
import { formatComparisonTable } from '../experiments/compare-format.js';
import { lossChartSvg, miouChartSvg } from '../experiments/convergence-chart.js';
import { TRACE_CSV_FILE } from '../experiments/trace-csv.js';
import { TRACE_FILE } from '../training/run-log.js';
import { flatSettings } from '../training/train-fields.js';
import { escapeHtml, htmlPage, svgImage } from './html-page.js';
import { evaluateForReport } from './report-evaluation.js';
import { readRunData, runSection, type RunData, type RunReportInputs } from './run-report.js';

export interface ReportOptions {
  /** Dataset root: evaluate for pictures (and a missing confusion matrix). */
  data?: string;
  /** Val images to draw (default 4). */
  images?: number;
  onProgress?: (done: number, total: number) => void;
  log?: (line: string) => void;
}

export const DEFAULT_REPORT_IMAGES = 4;

export type ReportKind = 'run' | 'trace';

/** Whether `dir` is a trace folder (trace.csv) or a run folder (trace.jsonl). */
export function reportKind(dir: string): ReportKind {
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new SegError(`${dir}: no such folder; pass a run folder or a trace folder`, dir);
  if (existsSync(join(dir, TRACE_CSV_FILE))) return 'trace';
  if (existsSync(join(dir, TRACE_FILE))) return 'run';
  throw new SegError(
    `${dir}: neither a run folder (${TRACE_FILE}) nor a trace folder (${TRACE_CSV_FILE}); pass what seg train --out or seg trace --out wrote`,
    dir,
  );
}

/** The checkpoint a report evaluates: the run's best, else its last. */
function reportCheckpoint(run: string): string | undefined {
  if (existsSync(join(runBestDir(run), 'config.json'))) return runBestDir(run);
  return existsSync(join(runCheckpointDir(run), 'config.json')) ? runCheckpointDir(run) : undefined;
}

async function runInputs(data: RunData, options: ReportOptions, withPictures: boolean): Promise<RunReportInputs> {
  const needsConfusion = data.evals[data.evals.length - 1]?.confusionMatrix === undefined;
  if (options.data === undefined || (!withPictures && !needsConfusion)) return {};
  const checkpoint = reportCheckpoint(data.dir);
  if (checkpoint === undefined) return {};
  const training = flatSettings(data.config?.training ?? {});
  const split = typeof training['valSplit'] === 'string' ? training['valSplit'] : 'val';
  const limit = typeof training['evalLimit'] === 'number' ? training['evalLimit'] : 0;
  options.log?.(`evaluating ${checkpoint} on '${split}' of ${options.data}`);
  const evaluation = await evaluateForReport(checkpoint, options.data, {
    split,
    limit,
    pictures: withPictures ? (options.images ?? DEFAULT_REPORT_IMAGES) : 0,
    ...(options.onProgress !== undefined ? { onProgress: options.onProgress } : {}),
  });
  const what = `${checkpoint}, ${evaluation.images} images of '${split}'`;
  return {
    ...(needsConfusion ? { confusion: { counts: evaluation.counts, what } } : {}),
    ...(withPictures ? { pictures: { pictures: evaluation.pictures, what: `predicted by ${checkpoint}` } } : {}),
  };
}

function compareForReport(dir: string): { comparison: Comparison; rows: ReturnType<typeof loadTraceDir> } {
  const rows = loadTraceDir(dir);
  let comparison: Comparison;
  try {
    comparison = compareTraces(rows);
  } catch (err) {
    // A learning-rate grid is compared at each head's selected lr, as `seg compare --select best-lr`.
    if (!(err instanceof SegError)) throw err;
    comparison = compareTraces(rows, { select: 'best-lr' });
  }
  return { comparison, rows: rows.filter((r) => comparison.heads.some((h) => h.head === r.head && h.lr === r.lr)) };
}

function traceRunDirs(dir: string): string[] {
  return readdirSync(dir)
    .map((name) => join(dir, name))
    .filter((path) => statSync(path).isDirectory() && existsSync(join(path, TRACE_FILE)))
    .sort();
}

function header(title: string, dir: string): string {
  return `<h1>${escapeHtml(title)}</h1><p class="meta">${escapeHtml(dir)}; written by seg ${escapeHtml(PACKAGE_VERSION)} on ${new Date().toISOString().slice(0, 10)}</p>`;
}

/** The report of a run or a trace folder, as one HTML page. */
export async function buildReport(dir: string, options: ReportOptions = {}): Promise<string> {
  if (reportKind(dir) === 'run') {
    const data = readRunData(dir);
    const body = header(`Run report: ${basename(dir)}`, dir) + runSection(data, await runInputs(data, options, true), 'Run');
    return htmlPage(`seg report: ${basename(dir)}`, body);
  }
  const { comparison, rows } = compareForReport(dir);
  const parts = [
    header(`Trace report: ${basename(dir)}`, dir),
    '<h2>Heads compared (seg compare)</h2>',
    `<pre class="comparison">${escapeHtml(formatComparisonTable(comparison))}</pre>`,
    '<div class="charts two">',
    svgImage(miouChartSvg(rows, comparison), 'validation mIoU during training'),
    svgImage(lossChartSvg(rows), 'training loss'),
    '</div>',
    '<h2>Runs</h2>',
  ];
  const runs = traceRunDirs(dir).map((d) => readRunData(d));
  const final = (r: RunData): number => r.evals[r.evals.length - 1]?.mIoU ?? -1;
  const leader = [...runs].sort((a, b) => final(b) - final(a))[0];
  for (const run of runs) {
    const inputs = await runInputs(run, options, run === leader);
    const section = runSection(run, inputs, basename(run.dir), 3);
    parts.push(
      `<details${run === leader ? ' open' : ''}><summary>${escapeHtml(basename(run.dir))}: final val mIoU ${(final(run) * 100).toFixed(2)}%${run === leader ? ' (the best final mIoU)' : ''}</summary>${section}</details>`,
    );
  }
  return htmlPage(`seg report: ${basename(dir)}`, parts.join('\n'));
}
