import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { dropoutNoise } from '../../src/nn/dropout-noise.js';

describe('dropoutNoise', () => {
  it('draws exactly the values of tf.randomUniform with the same seed', async () => {
    await tf.setBackend('cpu');
    for (const seed of [0, 1, 123456789, 4294967295]) {
      const expected = tf.randomUniform([3, 5, 7, 11], 0, 1, 'float32', seed);
      const ours = dropoutNoise(expected.size, seed);
      expect(Array.from(ours)).toEqual(Array.from(await expected.data()));
      expected.dispose();
    }
  });

  it('differs between seeds and lies in [0, 1)', () => {
    const a = dropoutNoise(1000, 7);
    const b = dropoutNoise(1000, 8);
    expect(Array.from(a)).not.toEqual(Array.from(b));
    expect(Math.min(...a)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...a)).toBeLessThan(1);
  });
});
