/**
 * Dropout's uniform noise, drawn on the host exactly as tf.randomUniform(shape, 0, 1,
 * 'float32', seed) draws it (seedrandom's alea seeded with the seed's decimal string, one
 * draw per element, stored as float32), so a captured training step can be fed the same
 * noise as an eager one without running the op (tested against tf.randomUniform).
 */
import seedrandom from 'seedrandom';

export function dropoutNoise(size: number, seed: number): Float32Array {
  const random = seedrandom.alea(String(seed));
  const values = new Float32Array(size);
  for (let i = 0; i < size; i++) values[i] = random();
  return values;
}
