/**
 * Gradient clipping by global norm, PyTorch's `clip_grad_norm_` (mmsegmentation's
 * `grad_clip=dict(max_norm=...)`): with the L2 norm n of all gradients taken together, each
 * gradient is multiplied by min(1, maxNorm / (n + 1e-6)). Applied to the loss gradients,
 * before weight decay and momentum, as PyTorch's optimizers see them.
 *
 * Everything stays on the device: the factor is a tensor, never read back, so a GPU step
 * needs no extra synchronisation. A non-finite norm (non-finite gradients) gives a factor of
 * 0 or NaN, as in PyTorch; the trainer reads the norm with the loss and reports the run as
 * diverged.
 */
import { tf } from '../backend/tf.js';

/** PyTorch's epsilon in the clip factor. */
export const CLIP_EPSILON = 1e-6;

/** Pairwise reduction (log depth): a WebGPU shader binds a handful of inputs, not one per parameter as tf.addN would. */
function reducePairwise(values: tf.Tensor[], op: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor): tf.Tensor {
  let level = values;
  while (level.length > 1) {
    const next: tf.Tensor[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const a = level[i] as tf.Tensor;
      const b = level[i + 1];
      next.push(b === undefined ? a : op(a, b));
    }
    level = next;
  }
  return level[0] as tf.Tensor;
}

/**
 * sqrt(sum over every gradient of its squared entries), a scalar tensor. Computed as
 * m * sqrt(sum((g / m)^2)) with m the largest |entry|, so gradients of 1e20 and more (a
 * diverging exp boost) still give a finite norm rather than float32's infinity.
 */
export function globalGradNorm(grads: Iterable<tf.Tensor>): tf.Scalar {
  return tf.tidy(() => {
    const list = [...grads];
    if (list.length === 0) return tf.scalar(0);
    const largest = reducePairwise(
      list.map((g) => tf.max(tf.abs(g))),
      (a, b) => tf.maximum(a, b),
    );
    const scale = tf.maximum(largest, 1e-30); // all-zero gradients: 0 / 1e-30 = 0
    const sum = reducePairwise(
      list.map((g) => tf.sum(tf.square(tf.div(g, scale)))),
      (a, b) => tf.add(a, b),
    );
    return tf.mul(tf.sqrt(sum), scale) as tf.Scalar;
  });
}

/** min(1, maxNorm / (norm + 1e-6)): 1 leaves the gradients as they are. */
export function clipFactor(norm: tf.Scalar, maxNorm: number): tf.Scalar {
  return tf.tidy(() => tf.minimum(tf.div(tf.scalar(maxNorm), tf.add(norm, CLIP_EPSILON)), 1) as tf.Scalar);
}

export interface ClippedGradients {
  /** The gradients scaled by the clip factor (new tensors; the caller disposes them). */
  grads: Map<string, tf.Tensor>;
  /** The global norm before clipping. */
  norm: tf.Scalar;
}

/** Scales `grads` so their global L2 norm is at most `maxNorm` (> 0). */
export function clipGradientsByGlobalNorm(grads: ReadonlyMap<string, tf.Tensor>, maxNorm: number): ClippedGradients {
  if (!(maxNorm > 0) || !Number.isFinite(maxNorm)) throw new RangeError(`maxNorm: got ${maxNorm}, expected a finite number > 0`);
  const norm = globalGradNorm(grads.values());
  const scaled = tf.tidy(() => {
    const factor = clipFactor(norm, maxNorm);
    return [...grads].map(([name, g]) => [name, tf.mul(g, factor)] as const);
  });
  return { grads: new Map(scaled), norm };
}
