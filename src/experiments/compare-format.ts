/** A Comparison as text: an aligned table for terminals, Markdown for reports. mIoU in percent. */
import type { Comparison, GridEntry, HeadComparison, RunComparison } from './compare.js';
import { escapeMarkdownCell } from '../core/markdown.js';
import { countNoun } from '../core/plural.js';

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

const HEADER = [
  'Head',
  'lr',
  'Seeds',
  'Best mIoU %',
  'Final mIoU %',
  'Iters to target',
  'Reached',
  'Diverged',
  'Wall to target',
  'Speed-up',
  'Wall speed-up',
];

function lrText(lr: number | null): string {
  return lr === null ? '-' : String(lr);
}

function divergedText(runs: readonly RunComparison[]): string {
  const at = runs.filter((r) => r.divergedAt !== null).map((r) => `s${r.seed} at ${r.divergedAt}`);
  return at.length === 0 ? '-' : `${at.length}/${runs.length}: ${at.join(', ')}`;
}

function cells(h: HeadComparison): string[] {
  return [
    h.head,
    lrText(h.lr),
    String(h.seeds),
    withStd(h.bestMIoU, h.bestMIoUStd, 2, 100),
    withStd(h.finalMIoU, h.finalMIoUStd, 2, 100),
    h.itersToTarget === null ? 'never' : withStd(h.itersToTarget, h.itersToTargetStd, 0),
    `${h.reached}/${h.seeds}`,
    divergedText(h.runs),
    seconds(h.wallToTarget, h.wallToTargetStd),
    signedPercent(h.speedupPct),
    signedPercent(h.wallSpeedupPct),
  ];
}

const GRID_HEADER = ['Head', 'lr', 'Score %', 'Scored seeds', 'Best mIoU % per seed', 'Final mIoU % per seed', 'Selected'];

function perSeed(runs: readonly RunComparison[], value: (r: RunComparison) => string): string {
  return runs.map((r) => `s${r.seed} ${value(r)}`).join(', ');
}

function percentOrDash(v: number | null): string {
  return v === null ? '-' : (v * 100).toFixed(2);
}

function gridCells(e: GridEntry): string[] {
  return [
    e.head,
    lrText(e.lr),
    percentOrDash(e.score),
    e.scoredSeeds.length === 0 ? '-' : e.scoredSeeds.map((s) => `s${s}`).join(' '),
    perSeed(e.runs, (r) => percentOrDash(r.bestMIoU)),
    perSeed(e.runs, (r) => (r.divergedAt !== null ? `diverged at ${r.divergedAt}` : percentOrDash(r.finalMIoU))),
    e.selected ? 'yes' : '',
  ];
}

const RUN_HEADER = ['Head', 'lr', 'Seed', 'Best mIoU % (at)', 'Final mIoU %', 'Iters to target', 'Wall to target'];

function runCells(h: HeadComparison, r: RunComparison): string[] {
  const best = r.bestMIoU === null ? '-' : `${percentOrDash(r.bestMIoU)} (${r.bestIter ?? '-'})`;
  const final = r.divergedAt !== null ? `diverged at ${r.divergedAt}` : percentOrDash(r.finalMIoU);
  return [
    h.head,
    lrText(h.lr),
    `s${r.seed}`,
    best,
    final,
    r.itersToTarget === null ? 'never' : String(r.itersToTarget),
    seconds(r.wallToTarget, null),
  ];
}

/** One row per run; only worth printing when some head has several seeds (the spread behind the means). */
function runRows(c: Comparison): { head: string; cells: string[] }[] | null {
  if (!c.heads.some((h) => h.runs.length > 1)) return null;
  return c.heads.flatMap((h) => [...h.runs].sort((a, b) => a.seed - b.seed).map((r) => ({ head: h.head, cells: runCells(h, r) })));
}

function targetLine(c: Comparison): string {
  const base = c.heads.find((h) => h.head === c.baseline);
  const seeds =
    base === undefined
      ? ''
      : ` (mean of ${countNoun(base.runs.filter((r) => r.bestMIoU !== null && r.divergedAt === null).length, 'seed')})`;
  const lr = c.baselineLr === null ? '' : ` at lr ${c.baselineLr}`;
  return (
    `Target: ${(c.target * 100).toFixed(1)}% of ${c.baseline}'s best val mIoU${lr} ${(c.baselineBestMIoU * 100).toFixed(2)}%${seeds}` +
    ` = ${(c.threshold * 100).toFixed(2)}% mIoU`
  );
}

function legendLines(c: Comparison): string[] {
  return [
    `Best/final: max and last val mIoU of each run, mean ± sample std over the seeds that did not diverge.`,
    `Iters/wall to target: first evaluation at or above the target, mean over the seeds that reached it (Reached); wall = training seconds.`,
    `Diverged: runs whose loss became non-finite, and the iteration; they never reach the target.`,
    `Speed-up: 100 * (1 - iters / ${c.baseline}'s iters); positive = reached the target sooner.`,
    ...c.notes.map((n) => `Note: ${n}`),
  ];
}

function selectionLines(c: Comparison): string[] {
  if (c.selection === null) return [];
  return [`Learning rates (rule '${c.selection.rule}'): ${c.selection.description}.`, ''];
}

function alignedTable(header: string[], body: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] as string).length)));
  const line = (row: string[]) =>
    row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] as number) : cell.padStart(widths[i] as number))).join('  ');
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(header), rule, ...body.map(line)];
}

function markdownTable(header: string[], body: string[][]): string[] {
  return [
    `| ${header.join(' | ')} |`,
    `|:---|${header
      .slice(1)
      .map(() => '---:|')
      .join('')}`,
    ...body.map((r) => `| ${r.join(' | ')} |`),
  ];
}

/** Aligned text: the lr grid (with a selection), target line, table, definitions. */
export function formatComparisonTable(c: Comparison): string {
  const grid = c.selection === null ? [] : [...selectionLines(c), ...alignedTable(GRID_HEADER, c.selection.grid.map(gridCells)), ''];
  const runs = runRows(c);
  const perRun =
    runs === null
      ? []
      : [
          '',
          'Per run:',
          '',
          ...alignedTable(
            RUN_HEADER,
            runs.map((r) => r.cells),
          ),
        ];
  return [...grid, targetLine(c), '', ...alignedTable(HEADER, c.heads.map(cells)), ...perRun, '', ...legendLines(c)].join('\n');
}

/** GitHub-flavoured Markdown: the lr grid (with a selection), target line, table (heads as code), definitions. */
export function formatComparisonMarkdown(c: Comparison): string {
  const code = (r: string[], head: string): string[] => [`\`${escapeMarkdownCell(head)}\``, ...r.slice(1)];
  const grid =
    c.selection === null
      ? []
      : [
          ...selectionLines(c).map((l) => escapeMarkdownCell(l)),
          ...markdownTable(
            GRID_HEADER,
            c.selection.grid.map((e) => code(gridCells(e), e.head)),
          ),
          '',
        ];
  const runs = runRows(c);
  const perRunMarkdown =
    runs === null
      ? []
      : [
          '',
          'Per run:',
          '',
          ...markdownTable(
            RUN_HEADER,
            runs.map((r) => code(r.cells, r.head)),
          ),
        ];
  return [
    ...grid,
    `${targetLine(c)}.`,
    '',
    ...markdownTable(
      HEADER,
      c.heads.map((h) => code(cells(h), h.head)),
    ),
    ...perRunMarkdown,
    '',
    ...legendLines(c).map((l) => `- ${escapeMarkdownCell(l)}`),
  ].join('\n');
}
