/**
 * The two convergence charts of a trace: validation mIoU (%) and smoothed training loss
 * against iterations, one mean line per head and lr with a min..max band over seeds (see
 * seed-curves.ts for how seeds logged at different iterations are combined). A cross marks
 * where a run diverged (its last value before the non-finite loss).
 */
import { join } from 'node:path';
import type { Comparison } from './compare.js';
import type { ChartEvent } from '../visualization/line-chart.js';
import { renderLineChartSvg, writeChartFiles, type ChartSeries, type ReferenceLine } from '../visualization/line-chart.js';
import { aggregateSeedCurves, lossSmoothingWindow, movingAverage, type SeedCurve } from '../visualization/seed-curves.js';
import { configLabel, divergedAt, groupTraceConfigs, type TraceCsvRow } from './trace-csv.js';

/** Loss curves spanning at least this ratio (max/min) get a log y axis. */
export const LOSS_LOG_SCALE_RATIO = 20;

/** Both charts span iterations 0..last logged, so they line up. */
function iterationDomain(rows: readonly TraceCsvRow[]): [number, number] {
  const last = rows.reduce((m, r) => Math.max(m, r.iter), 0);
  return [0, last > 0 ? last : 1];
}

function seedsLabel(head: string, lr: number | null, seeds: number): string {
  return `${configLabel(head, lr)} (${seeds} seed${seeds === 1 ? '' : 's'})`;
}

/** A cross per diverged run at its iteration of divergence, at the run's last `value` before it. */
function divergenceEvents(seeds: Map<number, TraceCsvRow[]>, value: (row: TraceCsvRow) => number | null): ChartEvent[] {
  const events: ChartEvent[] = [];
  for (const [seed, run] of seeds) {
    const at = divergedAt(run);
    if (at === null) continue;
    const before = run.filter((r) => r.iter < at && value(r) !== null);
    const last = before[before.length - 1];
    events.push({ x: at, y: last === undefined ? 0 : (value(last) as number), label: `s${seed} diverged at ${at}` });
  }
  return events;
}

/** Mean val mIoU (%) per head with its band; a dashed line at the comparison's threshold when given. */
export function miouChartSvg(rows: readonly TraceCsvRow[], comparison?: Comparison): string {
  const series: ChartSeries[] = [];
  for (const { head, lr, seeds } of groupTraceConfigs(rows)) {
    const curves: SeedCurve[] = [...seeds.values()].map((run) => {
      const evals = run.filter((r) => r.val_miou !== null);
      return { x: evals.map((r) => r.iter), y: evals.map((r) => (r.val_miou as number) * 100) };
    });
    const events = divergenceEvents(seeds, (r) => (r.val_miou === null ? null : r.val_miou * 100));
    series.push({ label: seedsLabel(head, lr, seeds.size), points: aggregateSeedCurves(curves), ...(events.length > 0 ? { events } : {}) });
  }
  const references: ReferenceLine[] = [];
  if (comparison !== undefined) {
    references.push({
      y: comparison.threshold * 100,
      label: `target ${(comparison.threshold * 100).toFixed(2)}% = ${Number((comparison.target * 100).toFixed(1))}% of ${comparison.baseline}'s best mIoU`,
    });
  }
  return renderLineChartSvg(series, {
    title: 'Validation mIoU during training',
    subtitle:
      'line: mean over seeds; band: min..max over seeds; x: a run diverged' +
      (comparison !== undefined ? '; dashed: the target of seg compare' : ''),
    xLabel: 'iteration',
    yLabel: 'val mIoU (%)',
    markers: true,
    referenceLines: references,
    xDomain: iterationDomain(rows),
  });
}

/** Training loss per head: each seed smoothed (centred moving average), then mean and band. */
export function lossChartSvg(rows: readonly TraceCsvRow[]): string {
  const configs = groupTraceConfigs(rows);
  const longest = Math.max(0, ...configs.flatMap((c) => [...c.seeds.values()].map((run) => run.length)));
  const window = lossSmoothingWindow(longest);
  const series: ChartSeries[] = [];
  for (const { head, lr, seeds } of configs) {
    const curves: SeedCurve[] = [...seeds.values()].map((run) => {
      const finite = run.filter((r): r is TraceCsvRow & { loss: number } => r.loss !== null && Number.isFinite(r.loss));
      return {
        x: finite.map((r) => r.iter),
        y: movingAverage(
          finite.map((r) => r.loss),
          window,
        ),
      };
    });
    const events = divergenceEvents(seeds, (r) => (r.loss !== null && Number.isFinite(r.loss) ? r.loss : null));
    series.push({ label: seedsLabel(head, lr, seeds.size), points: aggregateSeedCurves(curves), ...(events.length > 0 ? { events } : {}) });
  }
  const values = series.flatMap((s) => s.points.flatMap((p) => [p.lo, p.hi]));
  const positive = values.length > 0 && values.every((v) => v > 0);
  const logY = positive && Math.max(...values) / Math.min(...values) >= LOSS_LOG_SCALE_RATIO;
  const smoothing = window > 1 ? `centred moving average over ${window} logged iterations` : 'as logged (no smoothing)';
  return renderLineChartSvg(series, {
    title: 'Training loss',
    subtitle: [
      `${smoothing}; line: mean over seeds; band: min..max over seeds`,
      'each head reports its own loss (cross-entropy for softmax, squared error for egb/linear): compare shapes, not levels',
    ],
    xLabel: 'iteration',
    yLabel: logY ? 'training loss (log scale)' : 'training loss',
    logY,
    xDomain: iterationDomain(rows),
  });
}

export interface ConvergenceChartFiles {
  miouSvg: string;
  miouPng: string;
  lossSvg: string;
  lossPng: string;
}

/** Writes DIR/miou.svg, DIR/miou.png, DIR/loss.svg, DIR/loss.png and returns their paths. */
export async function writeConvergenceCharts(
  dir: string,
  rows: readonly TraceCsvRow[],
  comparison?: Comparison,
): Promise<ConvergenceChartFiles> {
  const files: ConvergenceChartFiles = {
    miouSvg: join(dir, 'miou.svg'),
    miouPng: join(dir, 'miou.png'),
    lossSvg: join(dir, 'loss.svg'),
    lossPng: join(dir, 'loss.png'),
  };
  await writeChartFiles(miouChartSvg(rows, comparison), files.miouSvg, files.miouPng);
  await writeChartFiles(lossChartSvg(rows), files.lossSvg, files.lossPng);
  return files;
}
