/**
 * The EGB boost functions, y = alpha * boost(z) + beta, with their overflow clamps.
 *
 * The clamps only bound the *value*: the EGB gradient is (y - t) / N and never goes through
 * the boost's derivative, so clamping changes no gradient direction, only caps its size.
 * - exp: the argument is clamped to at most EXP_BOOST_MAX_LOGIT = 30 (exp(30) ~ 1.07e13), so
 *   y, y - t and the squared error stay finite in float32 for any logit, even +-1e4.
 *   Very negative logits need no clamp (exp underflows to 0). Logits near 30 mean training
 *   has already diverged; the loss stays finite so the trainer can report it.
 * - pow3: the argument is clamped to [-1e5, 1e5] (cube 1e15), for the same reason.
 */
import { tf } from '../backend/tf.js';
import type { BoostKind } from './head-spec.js';

/** Upper clamp on the argument of exp in the exp boost (see the module comment). */
export const EXP_BOOST_MAX_LOGIT = 30;

/** Symmetric clamp on the argument of the cube in the pow3 boost. */
export const POW3_BOOST_MAX_ABS_LOGIT = 1e5;

// Plain products rather than tf.pow: no backend question about negative bases.
function cube(x: tf.Tensor): tf.Tensor {
  return tf.mul(tf.mul(x, x), x);
}

/** alpha * boost(clamped z) + beta, elementwise. */
export function boostedOutput<T extends tf.Tensor>(z: T, boost: BoostKind, alpha: number, beta: number): T {
  return tf.tidy(() => {
    const boosted =
      boost === 'exp'
        ? tf.exp(tf.minimum(z, EXP_BOOST_MAX_LOGIT))
        : cube(tf.clipByValue(z, -POW3_BOOST_MAX_ABS_LOGIT, POW3_BOOST_MAX_ABS_LOGIT));
    const scaled = tf.mul(boosted, alpha);
    return (beta === 0 ? scaled : tf.add(scaled, beta)) as T;
  });
}
