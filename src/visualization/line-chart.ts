/**
 * Self-contained SVG line charts: one mean line per series with a shaded band, ticks, grid,
 * axis labels, title, legend, optional dashed reference lines, linear or log y. No fonts or
 * scripts are referenced beyond a generic sans-serif, so librsvg (sharp) renders it as-is.
 */
import sharp from 'sharp';
import type { BandPoint } from './seed-curves.js';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../core/durable-files.js';

/** A point drawn as a cross in its series' colour (e.g. where a run stopped). */
export interface ChartEvent {
  x: number;
  y: number;
  label: string;
}

export interface ChartSeries {
  label: string;
  points: BandPoint[];
  events?: ChartEvent[];
}

export interface ReferenceLine {
  y: number;
  label: string;
}

export interface LineChartOptions {
  title: string;
  /** Lines under the title (what the band is, smoothing, ...). */
  subtitle?: string | string[];
  xLabel: string;
  yLabel: string;
  logY?: boolean;
  /** Dots at the data points (for sparse series such as evaluations). */
  markers?: boolean;
  referenceLines?: ReferenceLine[];
  /** Fixed x range (e.g. to align several charts); default: the data's, from 0 when near it. */
  xDomain?: [number, number];
  width?: number;
  height?: number;
}

/** Okabe-Ito colour-blind-safe palette (yellow left out: too faint on white), then extras. */
export const CHART_COLORS = [
  '#0072B2',
  '#D55E00',
  '#009E73',
  '#CC79A7',
  '#E69F00',
  '#56B4E9',
  '#000000',
  '#882255',
  '#999933',
  '#6F4E37',
] as const;

const FONT = 'DejaVu Sans, Helvetica, Arial, sans-serif';

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function num(v: number): string {
  return String(Math.round(v * 100) / 100);
}

/** Approximate text width (DejaVu Sans averages about 0.6 em per character). */
function textWidth(text: string, size: number): number {
  return text.length * size * 0.6;
}

function decimalsOf(step: number): number {
  for (let d = 0; d <= 8; d++) if (Math.abs(Math.round(step * 10 ** d) - step * 10 ** d) < 1e-6) return d;
  return 8;
}

/** About `count` round ticks (1, 2, 2.5, 5 x 10^k steps) covering [lo, hi]; the first <= lo, the last >= hi. */
export function niceTicks(lo: number, hi: number, count = 6): number[] {
  if (!(hi > lo)) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    return niceTicks(lo - pad, hi + pad, count);
  }
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * mag >= raw) ?? 10) * mag;
  const d = decimalsOf(step);
  const ticks: number[] = [];
  for (let v = Math.floor(lo / step + 1e-9) * step; v < hi + step * (1 - 1e-9); v += step) ticks.push(Number(v.toFixed(d)));
  return ticks;
}

/** Log-axis ticks in [lo, hi]: 1-2-5 per decade; powers of ten over many decades; every mantissa over a short range. */
export function logTicks(lo: number, hi: number): number[] {
  const pick = (mantissas: number[]) => {
    const out: number[] = [];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
      for (const m of mantissas) {
        const v = Number((m * 10 ** e).toPrecision(6));
        if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) out.push(v);
      }
    }
    return out;
  };
  const coarse = pick([1, 2, 5]);
  if (coarse.length > 10) return pick([1]);
  return coarse.length >= 3 ? coarse : pick([1, 2, 3, 4, 5, 6, 7, 8, 9]);
}

function formatTick(v: number, ticks: readonly number[], log: boolean): string {
  if (log) return String(Number(v.toPrecision(3)));
  const step = ticks.length > 1 ? (ticks[1] as number) - (ticks[0] as number) : 1;
  if (step >= 1000 && ticks.every((t) => t % 1000 === 0)) return v === 0 ? '0' : `${v / 1000}k`;
  return v.toFixed(decimalsOf(step));
}

interface Scale {
  map(v: number): number;
  ticks: number[];
}

function linearScale(lo: number, hi: number, from: number, to: number, ticks: number[]): Scale {
  const span = hi - lo || 1;
  return { map: (v) => from + ((v - lo) / span) * (to - from), ticks };
}

function logScale(lo: number, hi: number, from: number, to: number): Scale {
  const a = Math.log10(lo);
  const span = Math.log10(hi) - a || 1;
  return { map: (v) => from + ((Math.log10(Math.max(v, lo)) - a) / span) * (to - from), ticks: logTicks(lo, hi) };
}

interface LegendItem {
  label: string;
  color: string;
  x: number;
  row: number;
}

function layoutLegend(labels: readonly string[], left: number, maxWidth: number): { items: LegendItem[]; rows: number } {
  const items: LegendItem[] = [];
  let x = 0;
  let row = 0;
  labels.forEach((label, i) => {
    const w = 30 + textWidth(label, 13) + 22;
    if (x > 0 && x + w > maxWidth) {
      row++;
      x = 0;
    }
    items.push({ label, color: CHART_COLORS[i % CHART_COLORS.length] as string, x: left + x, row });
    x += w;
  });
  return { items, rows: labels.length === 0 ? 0 : row + 1 };
}

/** The chart as an SVG document string. Series without points still get a legend entry. */
export function renderLineChartSvg(series: readonly ChartSeries[], options: LineChartOptions): string {
  const width = options.width ?? 900;
  const height = options.height ?? 540;
  const log = options.logY === true;
  const refs = options.referenceLines ?? [];
  const all = [
    ...series.flatMap((s) => s.points),
    ...series.flatMap((s) => (s.events ?? []).map((e) => ({ x: e.x, y: e.y, lo: e.y, hi: e.y }))),
  ];
  const xs = all.map((p) => p.x);
  const ysRaw = [...all.flatMap((p) => [p.lo, p.hi, p.y]), ...refs.map((r) => r.y)].filter((v) => Number.isFinite(v) && (!log || v > 0));
  let xMin = options.xDomain?.[0] ?? (xs.length > 0 ? Math.min(...xs) : 0);
  const xMax = options.xDomain?.[1] ?? (xs.length > 0 ? Math.max(...xs) : 1);
  if (options.xDomain === undefined && xMin > 0 && xMin < 0.2 * xMax) xMin = 0;
  const yMin = ysRaw.length > 0 ? Math.min(...ysRaw) : log ? 0.1 : 0;
  const yMax = ysRaw.length > 0 ? Math.max(...ysRaw) : 1;

  // Vertical layout: title, subtitle, legend rows, plot, x ticks and label.
  const titleY = 30;
  const subtitles = options.subtitle === undefined ? [] : typeof options.subtitle === 'string' ? [options.subtitle] : options.subtitle;
  const subtitleY = titleY + 18 * subtitles.length + (subtitles.length > 0 ? 4 : 0);
  const yTicksLinear = log ? [] : niceTicks(yMin, yMax, 6);
  const yLo = log ? yMin / 1.15 : (yTicksLinear[0] as number);
  const yHi = log ? yMax * 1.15 : (yTicksLinear[yTicksLinear.length - 1] as number);
  const yTickProbe = log ? logTicks(yLo, yHi) : yTicksLinear;
  const yLabelChars = Math.max(...yTickProbe.map((t) => formatTick(t, yTickProbe, log).length), 1);
  const left = 44 + yLabelChars * 8;
  const right = width - 28;
  const legend = layoutLegend(
    series.map((s) => s.label),
    left,
    right - left,
  );
  const legendTop = subtitleY + 26;
  const top = legendTop + legend.rows * 22 + 8;
  const bottom = height - 58;

  const xTicks = niceTicks(xMin, xMax, 7).filter((t) => t >= xMin - 1e-9 && t <= xMax + 1e-9);
  const xScale = linearScale(xMin, xMax === xMin ? xMin + 1 : xMax, left, right, xTicks);
  const yScale = log ? logScale(yLo, yHi, bottom, top) : linearScale(yLo, yHi, bottom, top, yTicksLinear);

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT}">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    // The clip leaves room for whole markers on the frame.
    `<defs><clipPath id="plot"><rect x="${left - 4}" y="${top - 4}" width="${right - left + 8}" height="${bottom - top + 8}"/></clipPath></defs>`,
    `<text x="${width / 2}" y="${titleY}" text-anchor="middle" font-size="20" font-weight="bold" fill="#222">${escapeXml(options.title)}</text>`,
  );
  subtitles.forEach((line, i) => {
    out.push(
      `<text x="${width / 2}" y="${titleY + 22 + 18 * i}" text-anchor="middle" font-size="13" fill="#555">${escapeXml(line)}</text>`,
    );
  });
  // Grid and ticks.
  out.push('<g class="grid" stroke="#e3e3e3" stroke-width="1">');
  for (const t of yScale.ticks) out.push(`<line x1="${left}" x2="${right}" y1="${num(yScale.map(t))}" y2="${num(yScale.map(t))}"/>`);
  for (const t of xTicks) out.push(`<line x1="${num(xScale.map(t))}" x2="${num(xScale.map(t))}" y1="${top}" y2="${bottom}"/>`);
  out.push('</g>');
  out.push('<g class="ticks" font-size="13" fill="#333">');
  for (const t of yScale.ticks) {
    out.push(`<text x="${left - 8}" y="${num(yScale.map(t) + 4.5)}" text-anchor="end">${formatTick(t, yScale.ticks, log)}</text>`);
  }
  for (const t of xTicks)
    out.push(`<text x="${num(xScale.map(t))}" y="${bottom + 20}" text-anchor="middle">${formatTick(t, xTicks, false)}</text>`);
  out.push('</g>');
  out.push(`<rect x="${left}" y="${top}" width="${right - left}" height="${bottom - top}" fill="none" stroke="#444" stroke-width="1"/>`);
  out.push(
    `<text class="x-label" x="${(left + right) / 2}" y="${height - 16}" text-anchor="middle" font-size="15" fill="#222">${escapeXml(options.xLabel)}</text>`,
    `<text class="y-label" transform="translate(20 ${(top + bottom) / 2}) rotate(-90)" text-anchor="middle" font-size="15" fill="#222">${escapeXml(options.yLabel)}</text>`,
  );

  // Bands first (under every line), then lines, then markers.
  out.push('<g clip-path="url(#plot)">');
  series.forEach((s, i) => {
    const color = CHART_COLORS[i % CHART_COLORS.length] as string;
    const pts = s.points.filter((p) => Number.isFinite(p.lo) && Number.isFinite(p.hi));
    if (pts.length > 1 && pts.some((p) => p.hi > p.lo)) {
      const upper = pts.map((p) => `${num(xScale.map(p.x))},${num(yScale.map(p.hi))}`);
      const lower = pts.map((p) => `${num(xScale.map(p.x))},${num(yScale.map(p.lo))}`).reverse();
      out.push(`<polygon class="band" points="${[...upper, ...lower].join(' ')}" fill="${color}" fill-opacity="0.16" stroke="none"/>`);
    }
  });
  for (const r of refs) {
    const y = num(yScale.map(r.y));
    out.push(
      `<line class="reference" x1="${left}" x2="${right}" y1="${y}" y2="${y}" stroke="#555" stroke-width="1.4" stroke-dasharray="7 5"/>`,
    );
  }
  series.forEach((s, i) => {
    const color = CHART_COLORS[i % CHART_COLORS.length] as string;
    const pts = s.points.filter((p) => Number.isFinite(p.y) && (!log || p.y > 0));
    if (pts.length === 0) return;
    const d = pts.map((p, k) => `${k === 0 ? 'M' : 'L'}${num(xScale.map(p.x))},${num(yScale.map(p.y))}`).join(' ');
    out.push(
      `<path class="series" data-label="${escapeXml(s.label)}" d="${d}" fill="none" stroke="${color}" stroke-width="2.4" stroke-linejoin="round" stroke-linecap="round"/>`,
    );
    if (options.markers === true && pts.length <= 80) {
      for (const p of pts) out.push(`<circle cx="${num(xScale.map(p.x))}" cy="${num(yScale.map(p.y))}" r="3" fill="${color}"/>`);
    }
  });
  series.forEach((s, i) => {
    const color = CHART_COLORS[i % CHART_COLORS.length] as string;
    for (const e of s.events ?? []) {
      if (!Number.isFinite(e.y) || (log && e.y <= 0)) continue;
      const cx = xScale.map(e.x);
      const cy = yScale.map(e.y);
      const at = eventLabelPlacement(cx, cy, e.label.length, { left, right, top });
      out.push(
        `<path class="event" data-label="${escapeXml(e.label)}" d="M${num(cx - 6)},${num(cy - 6)} L${num(cx + 6)},${num(cy + 6)} M${num(cx - 6)},${num(cy + 6)} L${num(cx + 6)},${num(cy - 6)}" stroke="${color}" stroke-width="3" stroke-linecap="round"/>`,
        `<text class="event-label" x="${num(at.x)}" y="${num(at.y)}" text-anchor="${at.anchor}" font-size="12" fill="${color}" stroke="#ffffff" stroke-width="3" paint-order="stroke">${escapeXml(e.label)}</text>`,
      );
    }
  });
  out.push('</g>');
  // Reference labels go to the end and side of their line that the fewest lines cross, with a white halo.
  const drawn = series.map((s) =>
    s.points.filter((p) => Number.isFinite(p.y) && (!log || p.y > 0)).map((p) => ({ x: xScale.map(p.x), y: yScale.map(p.y) })),
  );
  for (const r of refs) {
    const y = yScale.map(r.y);
    const w = textWidth(r.label, 13);
    const candidates = [
      { x: left + 8, anchor: 'start', y: y - 7 },
      { x: left + 8, anchor: 'start', y: y + 17 },
      { x: right - 8, anchor: 'end', y: y - 7 },
      { x: right - 8, anchor: 'end', y: y + 17 },
    ] as const;
    const crossings = candidates.map((c) => {
      const x0 = c.anchor === 'start' ? c.x : c.x - w;
      return drawn.filter((pts) => polylineHitsBox(pts, x0, x0 + w, c.y - 13, c.y + 3)).length;
    });
    const best = candidates[crossings.indexOf(Math.min(...crossings))] as (typeof candidates)[number];
    out.push(
      `<text class="reference-label" x="${num(best.x)}" y="${num(best.y)}" text-anchor="${best.anchor}" font-size="13" fill="#333" stroke="#ffffff" stroke-width="4" stroke-linejoin="round" paint-order="stroke">${escapeXml(r.label)}</text>`,
    );
  }

  // Legend: a line over a band swatch, then the label.
  out.push('<g class="legend" font-size="13" fill="#222">');
  for (const item of legend.items) {
    const cy = legendTop + item.row * 22;
    out.push(
      `<rect x="${num(item.x)}" y="${cy - 6}" width="24" height="12" fill="${item.color}" fill-opacity="0.16"/>`,
      `<line x1="${num(item.x)}" x2="${num(item.x + 24)}" y1="${cy}" y2="${cy}" stroke="${item.color}" stroke-width="2.4"/>`,
      `<text x="${num(item.x + 30)}" y="${cy + 4.5}">${escapeXml(item.label)}</text>`,
    );
  }
  out.push('</g>', '</svg>');
  return out.join('\n') + '\n';
}

/** Whether a polyline (pixel coordinates) passes through the box [x0, x1] x [y0, y1]. */
function polylineHitsBox(pts: ReadonlyArray<{ x: number; y: number }>, x0: number, x1: number, y0: number, y1: number): boolean {
  for (let i = 0; i < pts.length; i++) {
    const a = pts[i] as { x: number; y: number };
    const b = pts[i + 1] ?? a;
    if (Math.max(a.x, b.x) < x0 || Math.min(a.x, b.x) > x1) continue;
    // The segment's y range over the part of it inside [x0, x1].
    const at = (x: number) => (b.x === a.x ? a.y : a.y + ((b.y - a.y) * (x - a.x)) / (b.x - a.x));
    const ya = at(Math.max(x0, Math.min(a.x, b.x)));
    const yb = at(Math.min(x1, Math.max(a.x, b.x)));
    if (Math.max(ya, yb, b.x === a.x ? b.y : -Infinity) >= y0 && Math.min(ya, yb, b.x === a.x ? b.y : Infinity) <= y1) return true;
  }
  return false;
}

/** Pixel density for PNG renderings: 2x the SVG's CSS pixels, sharp on high-DPI screens. */
/** Approximate advance of one character at the event labels' 12 px font (sans-serif). */
const EVENT_LABEL_CHAR_PX = 7;

/**
 * Where an event's label goes: centred above its marker, but kept inside the plot area (which clips
 * it): left- or right-aligned next to a marker near a side, below a marker near the top.
 */
export function eventLabelPlacement(
  cx: number,
  cy: number,
  chars: number,
  plot: { left: number; right: number; top: number },
): { x: number; y: number; anchor: 'start' | 'middle' | 'end' } {
  const half = (chars * EVENT_LABEL_CHAR_PX) / 2;
  const y = cy - 10 - 12 < plot.top ? cy + 22 : cy - 10;
  if (cx - half < plot.left) return { x: Math.max(cx - 6, plot.left + 2), y, anchor: 'start' };
  if (cx + half > plot.right) return { x: Math.min(cx + 6, plot.right - 2), y, anchor: 'end' };
  return { x: cx, y, anchor: 'middle' };
}

export const CHART_PNG_SCALE = 2;

/** Writes the SVG and its PNG rendering (CHART_PNG_SCALE x the SVG size), each atomically. */
export async function writeChartFiles(svg: string, svgPath: string, pngPath: string): Promise<void> {
  const png = await sharp(Buffer.from(svg), { density: 72 * CHART_PNG_SCALE })
    .png()
    .toBuffer();
  mkdirSync(dirname(svgPath), { recursive: true });
  mkdirSync(dirname(pngPath), { recursive: true });
  writeFileAtomic(svgPath, svg);
  writeFileAtomic(pngPath, png);
}
