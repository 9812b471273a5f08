/**
 * The report section of one run: its settings, the training loss, learning rate and val
 * mIoU curves, per-class IoU of the last and the best evaluation, the confusion matrix of
 * the last evaluation as a heatmap, and (when given) val images beside their ground truth
 * and prediction.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readCheckpointConfig } from '../checkpoint/checkpoint.js';
import type { CheckpointConfig } from '../checkpoint/checkpoint-config.js';
import { runBestDir, runCheckpointDir } from '../checkpoint/run-layout.js';
import { SegError } from '../core/errors.js';
import { formatPercent } from '../metrics/metrics-format.js';
import { readTrace, type BestTraceRow, type EvalTraceRow, type TrainTraceRow } from '../training/run-log.js';
import { flatSettings } from '../training/train-fields.js';
import { confusionHeatmapSvg } from '../visualization/confusion-heatmap.js';
import { renderLineChartSvg } from '../visualization/line-chart.js';
import { escapeHtml, pngImage, svgImage } from './html-page.js';

/** A val image with its ground truth and prediction, drawn side by side. */
export interface ReportPicture {
  id: string;
  png: Buffer;
  width: number;
  height: number;
}

export interface RunReportInputs {
  /** The confusion matrix to draw when the trace's eval rows have none (computed with --data). */
  confusion?: { counts: number[][]; what: string };
  pictures?: { pictures: ReportPicture[]; what: string };
}

export interface RunData {
  dir: string;
  config: CheckpointConfig | undefined;
  train: TrainTraceRow[];
  evals: EvalTraceRow[];
  bestRows: BestTraceRow[];
  classNames: string[];
}

export function readRunData(dir: string): RunData {
  const rows = readTrace(dir);
  if (rows.length === 0) throw new SegError(`${dir}: no trace.jsonl rows; pass a run folder written by seg train or seg trace`, dir);
  const config = existsSync(join(runCheckpointDir(dir), 'config.json')) ? readCheckpointConfig(runCheckpointDir(dir)) : undefined;
  const evals = rows.filter((r): r is EvalTraceRow => r.type === 'eval');
  return {
    dir,
    config,
    train: rows.filter((r): r is TrainTraceRow => r.type === 'train'),
    evals,
    bestRows: rows.filter((r): r is BestTraceRow => r.type === 'best'),
    classNames: config?.classNames ?? Object.keys(evals[evals.length - 1]?.classIoU ?? {}),
  };
}

/** The evaluation with the highest mIoU (the first of equals). */
export function bestEvaluation(evals: readonly EvalTraceRow[]): EvalTraceRow | undefined {
  let best: EvalTraceRow | undefined;
  for (const e of evals) if (e.mIoU !== null && (best === undefined || e.mIoU > (best.mIoU as number))) best = e;
  return best;
}

function curve(xs: number[], ys: number[]): { x: number; y: number; lo: number; hi: number }[] {
  return xs.flatMap((x, i) => (Number.isFinite(ys[i]) ? [{ x, y: ys[i] as number, lo: ys[i] as number, hi: ys[i] as number }] : []));
}

function chart(
  title: string,
  label: string,
  yLabel: string,
  xs: number[],
  ys: number[],
  options: { markers?: boolean; logY?: boolean } = {},
): string {
  const svg = renderLineChartSvg([{ label, points: curve(xs, ys) }], {
    title,
    xLabel: 'iteration',
    yLabel,
    width: 620,
    height: 380,
    ...(options.markers === true ? { markers: true } : {}),
    ...(options.logY === true ? { logY: true } : {}),
  });
  return svgImage(svg, title);
}

function settingsTable(config: CheckpointConfig | undefined): string {
  if (config === undefined) return '<p class="note">No checkpoint (config.json) in this run folder: settings unknown.</p>';
  const t = flatSettings(config.training);
  const keys = [
    'head',
    'backbone',
    'outputStride',
    'width',
    'crop',
    'batch',
    'iters',
    'lr',
    'warmupIters',
    'polyPower',
    'photometric',
    'seed',
    'data',
    'split',
    'valSplit',
  ];
  const pairs: [string, string][] = [
    ...keys.filter((k) => t[k] !== undefined).map((k): [string, string] => [k, JSON.stringify(t[k])]),
    ['iteration saved', String(config.iteration)],
    ['seg', config.packageVersion],
  ];
  const perRow = 4;
  const rows: string[] = [];
  for (let i = 0; i < pairs.length; i += perRow) {
    const cells = pairs.slice(i, i + perRow).map(([k, v]) => `<th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td>`);
    rows.push(`<tr>${cells.join('')}</tr>`);
  }
  return `<table class="settings">${rows.join('')}</table>`;
}

function bar(value: number | null, best = false): string {
  if (value === null) return '<td class="num">-</td>';
  return `<td class="num"><span class="bar${best ? ' best' : ''}" style="width:${Math.round(value * 160)}px"></span>${formatPercent(value)}</td>`;
}

function classTable(classNames: readonly string[], last: EvalTraceRow | undefined, best: EvalTraceRow | undefined): string {
  if (last === undefined) return '<p class="note">No evaluation in this run yet.</p>';
  const header = `<tr><th>class</th><th>last evaluation (iteration ${last.iter}) IoU %</th><th>best evaluation (iteration ${best?.iter ?? '-'}) IoU %</th></tr>`;
  const rows = classNames.map(
    (name) => `<tr><td>${escapeHtml(name)}</td>${bar(last.classIoU[name] ?? null)}${bar(best?.classIoU[name] ?? null, true)}</tr>`,
  );
  const summary = `<tr><th>mIoU</th>${bar(last.mIoU)}${bar(best?.mIoU ?? null, true)}</tr>`;
  return `<table class="class-iou">${header}${rows.join('')}${summary}</table>`;
}

/** The run's section of the report (an <h2> titled `title`, or an <h3> when `level` is 3). */
export function runSection(data: RunData, inputs: RunReportInputs = {}, title = data.dir, level: 2 | 3 = 2): string {
  const h = `h${level}`;
  const sub = `h${level + 1}`;
  const last = data.evals[data.evals.length - 1];
  const best = bestEvaluation(data.evals);
  const savedBest = data.bestRows[data.bestRows.length - 1];
  const parts: string[] = [`<section class="run"><${h}>${escapeHtml(title)}</${h}>`];
  const summary = [
    `${data.train[data.train.length - 1]?.iter ?? 0} iterations logged`,
    last !== undefined ? `last val mIoU ${formatPercent(last.mIoU)}% at iteration ${last.iter}` : 'no evaluation yet',
    best !== undefined ? `best ${formatPercent(best.mIoU)}% at iteration ${best.iter}` : '',
    savedBest !== undefined && existsSync(runBestDir(data.dir))
      ? `best checkpoint: ${runBestDir(data.dir)} (iteration ${savedBest.iter})`
      : '',
  ].filter((s) => s !== '');
  parts.push(`<p class="meta">${escapeHtml(summary.join('; '))}</p>`, settingsTable(data.config));
  const iters = data.train.map((r) => r.iter);
  const losses = data.train.map((r) => r.loss);
  const positive = losses.filter((l) => Number.isFinite(l) && l > 0);
  const logY = positive.length > 1 && Math.max(...positive) / Math.min(...positive) >= 20;
  parts.push(
    `<${sub}>Curves</${sub}><div class="charts three">`,
    chart('Training loss', 'loss', logY ? 'loss (log scale)' : 'loss', iters, losses, { logY }),
    chart(
      'Learning rate',
      'lr',
      'learning rate',
      iters,
      data.train.map((r) => r.lr),
    ),
    chart(
      'Validation mIoU',
      'val mIoU',
      'val mIoU (%)',
      data.evals.map((r) => r.iter),
      data.evals.map((r) => (r.mIoU === null ? Number.NaN : r.mIoU * 100)),
      { markers: true },
    ),
    '</div>',
  );
  parts.push(`<${sub}>Per-class IoU</${sub}>`, classTable(data.classNames, last, best));
  parts.push(`<${sub}>Confusion matrix</${sub}>`);
  const counts = last?.confusionMatrix ?? inputs.confusion?.counts;
  if (counts !== undefined && counts.length === data.classNames.length) {
    const what = last?.confusionMatrix !== undefined ? `last evaluation (iteration ${last.iter})` : (inputs.confusion?.what ?? '');
    parts.push(
      svgImage(
        confusionHeatmapSvg(counts, data.classNames, { title: `Confusion matrix, ${what}` }),
        `confusion matrix, ${what}`,
        'heatmap',
      ),
    );
  } else {
    parts.push(
      '<p class="note">The evaluation rows of this trace carry no confusion matrix (written by an older seg); pass --data DIR to compute it.</p>',
    );
  }
  if (inputs.pictures !== undefined) {
    parts.push(`<${sub}>Val images: image | ground truth | prediction</${sub}>`, `<p class="meta">${escapeHtml(inputs.pictures.what)}</p>`);
    for (const p of inputs.pictures.pictures) {
      parts.push(
        `<figure>${pngImage(p.png, p.width, p.height, `${p.id}: image, ground truth, prediction`)}<figcaption>${escapeHtml(p.id)}</figcaption></figure>`,
      );
    }
  }
  parts.push('</section>');
  return parts.join('\n');
}
