/** A Comparison as text: an aligned table for terminals, Markdown for reports. mIoU in percent. */
import type { Comparison, HeadComparison } from './compare.js';
import { escapeMarkdownCell } from '../core/markdown.js';

function withStd(value: number | null, std: number | null, digits: number, scale = 1): string {
  if (value === null) return '-';
  const text = (value * scale).toFixed(digits);
  return std === null ? text : `${text} ± ${(std * scale).toFixed(digits)}`;
}

function seconds(value: number | null, std: number | null): string {
  if (value === null) return '-';
  const digits = value >= 100 ? 0 : 1;
  return `${withStd(value, std, digits)} s`;
}

function signedPercent(value: number | null): string {
  if (value === null) return '-';
  const text = value.toFixed(1);
  return `${value > 0 ? '+' : ''}${text === '-0.0' ? '0.0' : text}%`;
}

const HEADER = ['Head', 'Seeds', 'Best mIoU %', 'Final mIoU %', 'Iters to target', 'Reached', 'Wall to target', 'Speed-up', 'Wall speed-up'];

function cells(h: HeadComparison): string[] {
  return [
    h.head,
    String(h.seeds),
    withStd(h.best_miou, h.best_miou_std, 2, 100),
    withStd(h.final_miou, h.final_miou_std, 2, 100),
    h.iters_to_target === null ? 'never' : withStd(h.iters_to_target, h.iters_to_target_std, 0),
    `${h.reached}/${h.seeds}`,
    seconds(h.wall_to_target, h.wall_to_target_std),
    signedPercent(h.speedup_pct),
    signedPercent(h.wall_speedup_pct),
  ];
}

function targetLine(c: Comparison): string {
  const base = c.heads.find((h) => h.head === c.baseline);
  const seeds = base === undefined ? '' : ` (mean of ${base.runs.filter((r) => r.best_miou !== null).length} seeds)`;
  return (
    `Target: ${(c.target * 100).toFixed(1)}% of ${c.baseline}'s best val mIoU ${(c.baseline_best_miou * 100).toFixed(2)}%${seeds}` +
    ` = ${(c.threshold * 100).toFixed(2)}% mIoU`
  );
}

function legendLines(c: Comparison): string[] {
  return [
    `Best/final: max and last val mIoU of each run, mean ± sample std over seeds.`,
    `Iters/wall to target: first evaluation at or above the target, mean over the seeds that reached it (Reached); wall = training seconds.`,
    `Speed-up: 100 * (1 - iters / ${c.baseline}'s iters); positive = reached the target sooner.`,
    ...c.notes.map((n) => `Note: ${n}`),
  ];
}

/** Aligned text: target line, table, definitions. */
export function formatComparisonTable(c: Comparison): string {
  const body = c.heads.map(cells);
  const widths = HEADER.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] as string).length)));
  const line = (row: string[]) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] as number) : cell.padStart(widths[i] as number))).join('  ');
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [targetLine(c), '', line(HEADER), rule, ...body.map(line), '', ...legendLines(c)].join('\n');
}

/** GitHub-flavoured Markdown: target line, table (heads as code), definitions. */
export function formatComparisonMarkdown(c: Comparison): string {
  const rows = c.heads.map((h) => {
    const r = cells(h);
    r[0] = `\`${escapeMarkdownCell(h.head)}\``;
    return `| ${r.join(' | ')} |`;
  });
  return [
    `${targetLine(c)}.`,
    '',
    `| ${HEADER.join(' | ')} |`,
    `|:---|${HEADER.slice(1)
      .map(() => '---:|')
      .join('')}`,
    ...rows,
    '',
    ...legendLines(c).map((l) => `- ${escapeMarkdownCell(l)}`),
  ].join('\n');
}
