/**
 * Dropout: in training with a dropout RNG, zero each value with probability `rate` and scale
 * the rest by 1 / (1 - rate); the identity otherwise (and in ONNX, which is inference).
 */
import { tf } from '../../engine/tf.js';
import { dropoutNoise } from '../dropout-noise.js';
import type { LayerKind, T4 } from '../layer-kind.js';
import { WEIGHTLESS_LEAF, outputActivation } from '../layer-kind.js';

/** Dropout (identity at inference). */
export interface DropoutSpec {
  kind: 'dropout';
  rate: number;
}

declare module '../layer-kind.js' {
  interface LayerSpecMap {
    dropout: DropoutSpec;
  }
}

export const dropoutKind: LayerKind<DropoutSpec> = {
  kind: 'dropout',
  ...WEIGHTLESS_LEAF,
  forward({ rate }, x, ctx) {
    const rng = ctx.options.dropoutRng;
    if (!ctx.options.training || rng === undefined || rate === 0) return x;
    const noise = ctx.options.dropoutNoise?.(x.shape, rng) ?? tf.tensor(dropoutNoise(x.size, rng.nextU32()), x.shape, 'float32');
    const keep = tf.greaterEqual(noise, rate);
    return tf.mul(x, tf.mul(tf.cast(keep, 'float32'), 1 / (1 - rate))) as T4;
  },
  outputShape: (_layer, x) => x,
  memory: (_layer, _input, out) => outputActivation('dropout', out),
  onnx: (_layer, x) => x, // identity at inference
};
