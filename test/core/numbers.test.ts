import { describe, expect, it } from 'vitest';
import { mean, median, round, sampleStd } from '../../src/core/numbers.js';

describe('numbers', () => {
  it('mean is null for no values and the arithmetic mean otherwise', () => {
    expect(mean([])).toBeNull();
    expect(mean([1, 2, 6])).toBe(3);
  });
  it('sampleStd uses n - 1 and is null below two values', () => {
    expect(sampleStd([5])).toBeNull();
    expect(sampleStd([1, 2, 6])).toBeCloseTo(Math.sqrt((4 + 1 + 9) / 2), 12);
  });
  it('median takes the middle value (the upper middle for an even count)', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(3);
    expect(median([])).toBeNaN();
  });
  it('round keeps the given decimal places', () => {
    expect(round(1.23456, 2)).toBe(1.23);
    expect(round(1.235, 0)).toBe(1);
    expect(round(-2.5551, 3)).toBe(-2.555);
  });
});
