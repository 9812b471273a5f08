import { describe, expect, it } from 'vitest';
import { countNoun } from '../../src/core/plural.js';

describe('countNoun', () => {
  it('says 1 seed and 1 iteration, 0 and 2 in the plural', () => {
    expect(countNoun(1, 'seed')).toBe('1 seed');
    expect(countNoun(1, 'iteration')).toBe('1 iteration');
    expect(countNoun(0, 'run')).toBe('0 runs');
    expect(countNoun(2, 'seed')).toBe('2 seeds');
  });
});
