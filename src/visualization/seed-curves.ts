/**
 * Curves of several seeds of one head reduced to one mean curve with a min..max band.
 * Seeds logged at the same iterations are averaged pointwise. Otherwise every seed is
 * linearly interpolated onto the union of the iterations, restricted to the range all seeds
 * cover (so every plotted point is a mean over all seeds, never over a changing subset).
 */

export interface SeedCurve {
  /** Ascending x (iterations), one y each. */
  x: number[];
  y: number[];
}

export interface BandPoint {
  x: number;
  /** Mean over seeds. */
  y: number;
  lo: number;
  hi: number;
}

function interpolate(curve: SeedCurve, x: number, cursor: { i: number }): number {
  const xs = curve.x;
  while (cursor.i + 1 < xs.length && (xs[cursor.i + 1] as number) <= x) cursor.i++;
  const x0 = xs[cursor.i] as number;
  const y0 = curve.y[cursor.i] as number;
  if (x0 === x || cursor.i + 1 >= xs.length) return y0;
  const x1 = xs[cursor.i + 1] as number;
  const y1 = curve.y[cursor.i + 1] as number;
  return y0 + ((y1 - y0) * (x - x0)) / (x1 - x0);
}

/** Mean and min..max over seeds; empty when there are no points or the seeds' ranges do not overlap. */
export function aggregateSeedCurves(curves: readonly SeedCurve[]): BandPoint[] {
  const used = curves.filter((c) => c.x.length > 0);
  if (used.length === 0) return [];
  const from = Math.max(...used.map((c) => c.x[0] as number));
  const to = Math.min(...used.map((c) => c.x[c.x.length - 1] as number));
  if (from > to) return [];
  const xs = [...new Set(used.flatMap((c) => c.x.filter((x) => x >= from && x <= to)))].sort((a, b) => a - b);
  const cursors = used.map(() => ({ i: 0 }));
  return xs.map((x) => {
    const ys = used.map((c, k) => interpolate(c, x, cursors[k] as { i: number }));
    return { x, y: ys.reduce((a, b) => a + b, 0) / ys.length, lo: Math.min(...ys), hi: Math.max(...ys) };
  });
}

/** Centred moving average over `window` points (odd; shrinks at the ends). */
export function movingAverage(values: readonly number[], window: number): number[] {
  const half = Math.max(0, Math.floor(window / 2));
  const prefix = [0];
  for (const v of values) prefix.push((prefix[prefix.length - 1] as number) + v);
  return values.map((_, i) => {
    const a = Math.max(0, i - half);
    const b = Math.min(values.length, i + half + 1);
    return ((prefix[b] as number) - (prefix[a] as number)) / (b - a);
  });
}

/** Smoothing window for a loss curve of n logged points: about n/20 points, odd, at least 1. */
export function lossSmoothingWindow(points: number): number {
  return 2 * Math.round(points / 40) + 1;
}
