import { describe, expect, it } from 'vitest';
import { ConfusionMatrix } from '../../src/metrics/confusion-matrix.js';
import { computeMetrics } from '../../src/metrics/segmentation-metrics.js';
import { formatMetricsMarkdown, formatMetricsTable, formatPercent } from '../../src/metrics/metrics-format.js';

// rows = ground truth, columns = prediction
//        p0 p1 p2
//   g0 [  3, 1, 0 ]   GT 4, PRED 4, TP 3: IoU 3/5, acc 3/4
//   g1 [  0, 2, 1 ]   GT 3, PRED 3, TP 2: IoU 2/4, acc 2/3
//   g2 [  1, 0, 1 ]   GT 2, PRED 2, TP 1: IoU 1/3, acc 1/2
// aAcc = 6/9; mIoU = (3/5 + 1/2 + 1/3)/3 = 43/90; mAcc = (3/4 + 2/3 + 1/2)/3 = 23/36;
// fwIoU = (4*3/5 + 3*1/2 + 2*1/3)/9 = 137/270.
const THREE = ConfusionMatrix.fromCounts(3, [3, 1, 0, 0, 2, 1, 1, 0, 1]);

describe('computeMetrics', () => {
  it('matches the hand-computed scores', () => {
    const m = computeMetrics(THREE, ['bg', 'cat', 'dog']);
    expect(m.mIoU).toBeCloseTo(43 / 90, 12);
    expect(m.aAcc).toBeCloseTo(6 / 9, 12);
    expect(m.mAcc).toBeCloseTo(23 / 36, 12);
    expect(m.fwIoU).toBeCloseTo(137 / 270, 12);
    expect(m.pixels).toBe(9);
    expect(m.classes.map((c) => c.name)).toEqual(['bg', 'cat', 'dog']);
    expect(m.classes.map((c) => c.iou)).toEqual([3 / 5, 2 / 4, 1 / 3]);
    expect(m.classes.map((c) => c.acc)).toEqual([3 / 4, 2 / 3, 1 / 2]);
    expect(m.classes.map((c) => c.pixels)).toEqual([4, 3, 2]);
  });

  it('gives null IoU for an empty union and leaves it out of mIoU', () => {
    // class 3 neither occurs nor is predicted; otherwise the matrix above
    const cm = ConfusionMatrix.fromCounts(4, [3, 1, 0, 0, 0, 2, 1, 0, 1, 0, 1, 0, 0, 0, 0, 0]);
    const m = computeMetrics(cm, ['bg', 'cat', 'dog', 'cow']);
    expect(m.classes[3]).toEqual({ name: 'cow', iou: null, acc: null, pixels: 0 });
    expect(m.mIoU).toBeCloseTo(43 / 90, 12);
    expect(m.mAcc).toBeCloseTo(23 / 36, 12);
    expect(m.fwIoU).toBeCloseTo(137 / 270, 12);
  });

  it('counts a predicted-but-absent class as IoU 0 in mIoU, not in mAcc', () => {
    //        p0 p1
    //   g0 [  2, 2 ]   IoU 2/4, acc 2/4
    //   g1 [  0, 0 ]   GT 0, PRED 2: IoU 0, acc null
    const m = computeMetrics(ConfusionMatrix.fromCounts(2, [2, 2, 0, 0]), ['a', 'b']);
    expect(m.classes[1]).toEqual({ name: 'b', iou: 0, acc: null, pixels: 0 });
    expect(m.mIoU).toBeCloseTo(0.25, 12);
    expect(m.mAcc).toBeCloseTo(0.5, 12);
    expect(m.aAcc).toBeCloseTo(0.5, 12);
    expect(m.fwIoU).toBeCloseTo(0.5, 12);
  });

  it('ignores void pixels end to end', () => {
    const cm = new ConfusionMatrix(2);
    cm.update(Uint8Array.from([0, 1, 255, 255, 255]), Uint8Array.from([0, 1, 1, 1, 0]));
    const m = computeMetrics(cm, ['a', 'b']);
    expect(m.mIoU).toBe(1);
    expect(m.aAcc).toBe(1);
    expect(m.pixels).toBe(2);
  });

  it('reports null summaries for an empty matrix', () => {
    const m = computeMetrics(new ConfusionMatrix(2), ['a', 'b']);
    expect([m.mIoU, m.aAcc, m.mAcc, m.fwIoU]).toEqual([null, null, null, null]);
    expect(m.classes.every((c) => c.iou === null && c.acc === null)).toBe(true);
  });

  it('rejects a wrong number of class names', () => {
    expect(() => computeMetrics(THREE, ['a', 'b'])).toThrow(/2 class names for a 3-class/);
  });
});

describe('formatting', () => {
  const cm = ConfusionMatrix.fromCounts(4, [3, 1, 0, 0, 0, 2, 1, 0, 1, 0, 1, 0, 0, 0, 0, 0]);
  const metrics = computeMetrics(cm, ['background', 'cat', 'dog', 'cow']);

  it('formats percentages with two decimals', () => {
    expect(formatPercent(43 / 90)).toBe('47.78');
    expect(formatPercent(1)).toBe('100.00');
    expect(formatPercent(null)).toBe('-');
  });

  it('prints an aligned text table', () => {
    expect(formatMetricsTable(metrics)).toBe(
      [
        'Class         IoU    Acc  Pixels',
        '----------  -----  -----  ------',
        'background  60.00  75.00       4',
        'cat         50.00  66.67       3',
        'dog         33.33  50.00       2',
        'cow             -      -       0',
        '----------  -----  -----  ------',
        'mIoU 47.78  aAcc 66.67  mAcc 63.89  fwIoU 50.74',
        '(mIoU: mean over the 3 of 4 classes with a non-empty union; pixels: 9)',
      ].join('\n'),
    );
  });

  it('prints Markdown tables', () => {
    const md = formatMetricsMarkdown(metrics);
    expect(md.split('\n').slice(0, 7)).toEqual([
      '| mIoU | aAcc | mAcc | fwIoU |',
      '|---:|---:|---:|---:|',
      '| 47.78 | 66.67 | 63.89 | 50.74 |',
      '',
      '| Class | IoU | Acc | Pixels |',
      '|:---|---:|---:|---:|',
      '| background | 60.00 | 75.00 | 4 |',
    ]);
    expect(md).toContain('| cow | - | - | 0 |');
  });
});
