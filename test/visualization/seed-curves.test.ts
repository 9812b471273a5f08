import { describe, expect, it } from 'vitest';
import { aggregateSeedCurves, lossSmoothingWindow, movingAverage } from '../../src/visualization/seed-curves.js';

describe('seed curves', () => {
  it('averages seeds evaluated at the same iterations pointwise, with min..max', () => {
    const points = aggregateSeedCurves([
      { x: [100, 200], y: [10, 40] },
      { x: [100, 200], y: [20, 30] },
      { x: [100, 200], y: [30, 50] },
    ]);
    expect(points).toEqual([
      { x: 100, y: 20, lo: 10, hi: 30 },
      { x: 200, y: 40, lo: 30, hi: 50 },
    ]);
  });

  it('interpolates seeds onto the union of iterations inside the range all of them cover', () => {
    // Seed A at 0, 100, 200, 300; seed B at 50, 150, 250 (range 50..250).
    const points = aggregateSeedCurves([
      { x: [0, 100, 200, 300], y: [0, 10, 20, 30] },
      { x: [50, 150, 250], y: [5, 25, 45] },
    ]);
    // At 50: A = 5, B = 5. At 100: A = 10, B = 15. At 150: A = 15, B = 25. At 200: A = 20, B = 35. At 250: A = 25, B = 45.
    expect(points).toEqual([
      { x: 50, y: 5, lo: 5, hi: 5 },
      { x: 100, y: 12.5, lo: 10, hi: 15 },
      { x: 150, y: 20, lo: 15, hi: 25 },
      { x: 200, y: 27.5, lo: 20, hi: 35 },
      { x: 250, y: 35, lo: 25, hi: 45 },
    ]);
  });

  it('is empty without points or without a common range; ignores empty seeds', () => {
    expect(aggregateSeedCurves([])).toEqual([]);
    expect(aggregateSeedCurves([{ x: [], y: [] }])).toEqual([]);
    expect(
      aggregateSeedCurves([
        { x: [0, 10], y: [1, 2] },
        { x: [20, 30], y: [1, 2] },
      ]),
    ).toEqual([]);
    expect(
      aggregateSeedCurves([
        { x: [0, 10], y: [1, 2] },
        { x: [], y: [] },
      ]),
    ).toEqual([
      { x: 0, y: 1, lo: 1, hi: 1 },
      { x: 10, y: 2, lo: 2, hi: 2 },
    ]);
  });

  it('centred moving average shrinks at the ends', () => {
    expect(movingAverage([1, 2, 3, 4, 5, 6], 3)).toEqual([1.5, 2, 3, 4, 5, 5.5]);
    expect(movingAverage([3, 9, 6], 1)).toEqual([3, 9, 6]);
    expect(movingAverage([0, 0, 10, 0, 0], 5)).toEqual([10 / 3, 2.5, 2, 2.5, 10 / 3]);
    expect(lossSmoothingWindow(10)).toBe(1);
    expect(lossSmoothingWindow(400)).toBe(21);
    expect(lossSmoothingWindow(0)).toBe(1);
  });
});
