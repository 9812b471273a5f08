import { describe, expect, it } from 'vitest';
import { CHART_COLORS, eventLabelPlacement, logTicks, niceTicks, renderLineChartSvg } from '../../src/visualization/line-chart.js';

describe('line chart', () => {
  it('nice ticks cover the range with round steps', () => {
    expect(niceTicks(0, 4000, 7)).toEqual([0, 1000, 2000, 3000, 4000]);
    expect(niceTicks(9.6, 65.8, 6)).toEqual([0, 10, 20, 30, 40, 50, 60, 70]);
    expect(niceTicks(0.31, 0.42, 5)).toEqual([0.3, 0.325, 0.35, 0.375, 0.4, 0.425]);
    expect(niceTicks(5, 5, 4)).toEqual([4.5, 4.75, 5, 5.25, 5.5]);
    expect(logTicks(0.04, 2.6)).toEqual([0.05, 0.1, 0.2, 0.5, 1, 2]);
    expect(logTicks(0.3, 0.9)).toEqual([0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]);
    expect(logTicks(1e-4, 2e3)).toEqual([1e-4, 1e-3, 0.01, 0.1, 1, 10, 100, 1000]);
  });

  it('draws a band, a path with a point per x, legend, labels, ticks and a reference line; escapes text', () => {
    const svg = renderLineChartSvg(
      [
        {
          label: 'a<b & "c"',
          points: [
            { x: 0, y: 10, lo: 5, hi: 15 },
            { x: 100, y: 20, lo: 18, hi: 22 },
            { x: 200, y: 30, lo: 30, hi: 30 },
          ],
        },
        { label: 'empty', points: [] },
      ],
      {
        title: 'T',
        subtitle: ['one', 'two'],
        xLabel: 'iteration',
        yLabel: 'val mIoU (%)',
        referenceLines: [{ y: 25, label: 'target' }],
        markers: true,
      },
    );
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg" width="900" height="540"')).toBe(true);
    expect(svg).toContain('a&lt;b &amp; &quot;c&quot;');
    expect(svg).not.toContain('a<b');
    const paths = [...svg.matchAll(/<path class="series"[^>]* d="([^"]+)"/g)].map((m) => m[1] as string);
    expect(paths).toHaveLength(1);
    expect((paths[0] as string).split(/[ML]/).filter((s) => s.trim() !== '')).toHaveLength(3);
    expect(svg.match(/<polygon class="band"/g)).toHaveLength(1);
    expect(svg.match(/<circle /g)).toHaveLength(3);
    expect(svg).toContain(`stroke="${CHART_COLORS[0]}"`);
    expect(svg).toMatch(/class="x-label"[^>]*>iteration</);
    expect(svg).toMatch(/class="y-label"[^>]*>val mIoU \(%\)</);
    expect(svg).toMatch(/class="reference"/);
    expect(svg).toContain('>target</text>');
    expect(svg).toContain('>empty</text>');
    // y spans the band (5..30): ticks every 5; x ticks every 50 (0..200).
    const yTicks = [...svg.matchAll(/text-anchor="end">([^<]+)</g)].map((m) => m[1]);
    expect(yTicks).toEqual(['5', '10', '15', '20', '25', '30']);
    const xTicks = [...svg.matchAll(/y="502" text-anchor="middle">([^<]+)</g)].map((m) => m[1]);
    expect(xTicks).toEqual(['0', '50', '100', '150', '200']);
  });

  it('maps data into the plot frame: higher values are drawn higher', () => {
    const svg = renderLineChartSvg(
      [
        {
          label: 's',
          points: [
            { x: 0, y: 1, lo: 1, hi: 1 },
            { x: 10, y: 100, lo: 100, hi: 100 },
          ],
        },
      ],
      {
        title: 'T',
        xLabel: 'x',
        yLabel: 'y',
        logY: true,
      },
    );
    const d = /<path class="series"[^>]* d="M([\d.]+),([\d.]+) L([\d.]+),([\d.]+)"/.exec(svg);
    expect(d).not.toBeNull();
    const [x0, y0, x1, y1] = (d as RegExpExecArray).slice(1).map(Number) as [number, number, number, number];
    expect(x1).toBeGreaterThan(x0);
    expect(y1).toBeLessThan(y0);
    expect(svg).toContain('>10</text>');
  });

  it('keeps event labels inside the plot: aligned to the side near an edge, below a marker near the top', () => {
    const plot = { left: 100, right: 800, top: 80 };
    // 14 chars at 7 px: half width 49 px.
    expect(eventLabelPlacement(400, 300, 14, plot)).toEqual({ x: 400, y: 290, anchor: 'middle' });
    expect(eventLabelPlacement(102, 300, 14, plot)).toEqual({ x: 102, y: 290, anchor: 'start' });
    expect(eventLabelPlacement(120, 300, 14, plot)).toEqual({ x: 114, y: 290, anchor: 'start' });
    expect(eventLabelPlacement(790, 300, 14, plot)).toEqual({ x: 796, y: 290, anchor: 'end' });
    expect(eventLabelPlacement(400, 95, 14, plot)).toEqual({ x: 400, y: 117, anchor: 'middle' });

    // A run that diverged at the first iteration: its marker sits on the left edge of the frame.
    const svg = renderLineChartSvg(
      [
        {
          label: 's',
          points: [
            { x: 0, y: 10, lo: 10, hi: 10 },
            { x: 1000, y: 40, lo: 40, hi: 40 },
          ],
          events: [{ x: 0, y: 0, label: 's2 diverged at 36' }],
        },
      ],
      { title: 'T', xLabel: 'x', yLabel: 'y' },
    );
    const label = /<text class="event-label" x="([\d.]+)"[^>]* text-anchor="(\w+)"[^>]*>s2 diverged at 36</.exec(svg);
    expect(label?.[2]).toBe('start');
    const marker = /<path class="event"[^>]* d="M([\d.]+),/.exec(svg);
    expect(Number(label?.[1])).toBeGreaterThanOrEqual(Number(marker?.[1]));
  });
});
