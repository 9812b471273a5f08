/** Metrics as text: an aligned table for terminals, Markdown for reports. Percent, 2 decimals. */
import type { SegMetrics } from './segmentation-metrics.js';
import { escapeMarkdownCell } from '../core/markdown.js';

/** 0.71234 -> '71.23'; null (undefined score) -> '-'. */
export function formatPercent(value: number | null): string {
  return value === null ? '-' : (value * 100).toFixed(2);
}

function rows(metrics: SegMetrics): string[][] {
  return metrics.classes.map((c) => [c.name, formatPercent(c.iou), formatPercent(c.acc), String(c.pixels)]);
}

function summaryCells(metrics: SegMetrics): Array<[string, string]> {
  return [
    ['mIoU', formatPercent(metrics.mIoU)],
    ['aAcc', formatPercent(metrics.aAcc)],
    ['mAcc', formatPercent(metrics.mAcc)],
    ['fwIoU', formatPercent(metrics.fwIoU)],
  ];
}

function policyNote(metrics: SegMetrics): string {
  const counted = metrics.classes.filter((c) => c.iou !== null).length;
  return `mIoU: mean over the ${counted} of ${metrics.classes.length} classes with a non-empty union`;
}

/** Aligned text table: one row per class (IoU %, Acc %, pixels), then the summary. */
export function formatMetricsTable(metrics: SegMetrics): string {
  const header = ['Class', 'IoU', 'Acc', 'Pixels'];
  const body = rows(metrics);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  const summary = summaryCells(metrics)
    .map(([name, value]) => `${name} ${value}`)
    .join('  ');
  return [line(header), rule, ...body.map(line), rule, summary, `(${policyNote(metrics)}; pixels: ${metrics.pixels})`].join('\n');
}

/** GitHub-flavoured Markdown: the summary table, then the per-class table. */
export function formatMetricsMarkdown(metrics: SegMetrics): string {
  const summary = summaryCells(metrics);
  const lines = [
    `| ${summary.map(([name]) => name).join(' | ')} |`,
    `|${summary.map(() => '---:|').join('')}`,
    `| ${summary.map(([, value]) => value).join(' | ')} |`,
    '',
    '| Class | IoU | Acc | Pixels |',
    '|:---|---:|---:|---:|',
    ...rows(metrics).map((r) => `| ${escapeMarkdownCell(r[0])} | ${r[1]} | ${r[2]} | ${r[3]} |`),
    '',
    `${policyNote(metrics)}; IoU and Acc in percent.`,
  ];
  return lines.join('\n');
}
