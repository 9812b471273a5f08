import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { compareTraces } from '../../src/experiments/compare.js';
import { lossChartSvg, miouChartSvg, writeConvergenceCharts } from '../../src/experiments/convergence-chart.js';
import type { TraceCsvRow } from '../../src/experiments/trace-csv.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** Logged every 10 iterations to 200, evaluated every 50; loss = scale / (1 + iter / 10). */
function run(head: string, seed: number, lossScale: number, miouAt: (iter: number) => number): TraceCsvRow[] {
  const rows: TraceCsvRow[] = [];
  for (let iter = 0; iter <= 200; iter += 10) {
    rows.push({
      head,
      seed,
      iter,
      wall_s: iter / 10,
      loss: lossScale / (1 + iter / 10),
      train_acc: null,
      val_miou: iter > 0 && iter % 50 === 0 ? miouAt(iter) : null,
      lr: null,
    });
  }
  return rows;
}

const rows = [
  ...run('softmax', 0, 2, (i) => i / 400),
  ...run('softmax', 1, 2.2, (i) => i / 400 + 0.02),
  ...run('egb:exp:alpha=0.3,beta=0', 0, 0.5, (i) => i / 300),
  ...run('egb:exp:alpha=0.3,beta=0', 1, 0.6, (i) => i / 300 + 0.04),
];

function seriesPaths(svg: string): Array<{ label: string; points: number }> {
  return [...svg.matchAll(/<path class="series" data-label="([^"]*)" d="([^"]+)"/g)].map((m) => ({
    label: m[1] as string,
    points: (m[2] as string).split(/[ML]/).filter((s) => s.trim() !== '').length,
  }));
}

describe('convergence charts', () => {
  it('mIoU chart: a path per head over the evaluations, axis labels, the target line', () => {
    const comparison = compareTraces(rows);
    const svg = miouChartSvg(rows, comparison);
    expect(seriesPaths(svg)).toEqual([
      { label: 'softmax (2 seeds)', points: 4 },
      { label: 'egb:exp:alpha=0.3,beta=0 (2 seeds)', points: 4 },
    ]);
    expect(svg).toMatch(/class="x-label"[^>]*>iteration</);
    expect(svg).toMatch(/class="y-label"[^>]*>val mIoU \(%\)</);
    expect(svg).toContain('Validation mIoU during training');
    // softmax best: 0.5 and 0.52 -> threshold 0.95 * 0.51 = 48.45%.
    expect(svg).toContain("target 48.45% = 95% of softmax's best mIoU");
    expect(svg.match(/<polygon class="band"/g)).toHaveLength(2);
  });

  it('loss chart: smoothed per head, log y when the loss spans decades, linear otherwise', () => {
    const svg = lossChartSvg(rows);
    expect(seriesPaths(svg).map((s) => s.points)).toEqual([21, 21]);
    expect(svg).toContain('centred moving average over 3 logged iterations');
    expect(svg).toMatch(/class="y-label"[^>]*>training loss \(log scale\)</);
    const flat = rows.map((r) => ({ ...r, loss: 1 + r.iter / 1000 }));
    expect(lossChartSvg(flat)).toMatch(/class="y-label"[^>]*>training loss</);
    // Non-finite losses (a diverged step) are left out rather than breaking the path.
    const diverged = rows.map((r) => (r.head === 'softmax' && r.seed === 0 && r.iter === 200 ? { ...r, loss: NaN } : r));
    expect(lossChartSvg(diverged)).not.toMatch(/NaN/);
  });

  it('writes miou/loss SVG and 2x PNG renderings', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'seg-charts-'));
    dirs.push(dir);
    const files = await writeConvergenceCharts(dir, rows, compareTraces(rows));
    expect(files).toEqual({
      miouSvg: join(dir, 'miou.svg'),
      miouPng: join(dir, 'miou.png'),
      lossSvg: join(dir, 'loss.svg'),
      lossPng: join(dir, 'loss.png'),
    });
    expect(readdirSync(dir).sort()).toEqual(['loss.png', 'loss.svg', 'miou.png', 'miou.svg']);
    for (const png of [files.miouPng, files.lossPng]) {
      const bytes = readFileSync(png);
      expect([...bytes.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
      const meta = await sharp(bytes).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['png', 1800, 1080]);
      // Rendered, not blank: the image has dark pixels (text, axes, lines) as well as white.
      const stats = await sharp(bytes).stats();
      expect(stats.channels[0]?.min).toBeLessThan(80);
      expect(stats.channels[0]?.max).toBe(255);
    }
    expect(readFileSync(files.miouSvg, 'utf8')).toContain('<path class="series"');
  });

  it('names each head with its lr and marks a diverged run with a cross where it died', () => {
    const rows: TraceCsvRow[] = [
      { head: 'egb', seed: 0, iter: 50, wall_s: 1, loss: 0.5, train_acc: null, val_miou: 0.3, lr: 0.1 },
      { head: 'egb', seed: 0, iter: 70, wall_s: 2, loss: NaN, train_acc: null, val_miou: null, lr: 0.1 },
      { head: 'egb', seed: 0, iter: 50, wall_s: 1, loss: 0.5, train_acc: null, val_miou: 0.2, lr: 0.01 },
      { head: 'egb', seed: 0, iter: 100, wall_s: 2, loss: 0.4, train_acc: null, val_miou: 0.25, lr: 0.01 },
    ];
    const svg = miouChartSvg(rows);
    expect(svg).toContain('data-label="egb lr=0.01 (1 seed)"');
    expect(svg).toContain('data-label="egb lr=0.1 (1 seed)"');
    expect(svg.match(/class="event"/g)).toHaveLength(1);
    expect(svg).toContain('data-label="s0 diverged at 70"');
    expect(lossChartSvg(rows).match(/class="event"/g)).toHaveLength(1);
    expect(miouChartSvg(rows.slice(2))).not.toContain('class="event"');
  });
});
