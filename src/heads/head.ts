/**
 * Output heads: the loss, the gradient handed to the logits, and the prediction rule
 * (the README's head table). Per pixel, with K logits z, one-hot target t, and N the
 * number of valid (label != 255) pixels in the batch:
 *
 *   softmax:  p = softmax(z)             loss = mean CE          grad = (p - t) / N
 *   egb:      y = alpha * boost(z) + beta  loss = sum 0.5 (y - t)^2 / N  grad = (y - t) / N
 *   linear:   y = z                       loss = as egb (MSE)     grad = (y - t) / N
 *
 * The egb gradient is deliberately NOT multiplied by boost'(z): backprop sees a linear
 * output while the error is boosted. `loss()` wires exactly these gradients into autodiff
 * with tf.customGrad, so for egb it is not the derivative of the loss it reports. Void
 * pixels get zero loss and zero gradient; with no valid pixel, loss and gradient are 0.
 * The boosts clamp their argument so nothing overflows (see boost.ts: exp's argument is
 * capped at 30, pow3's at +-1e5). Every head predicts argmax z.
 */
import { tf } from '../engine/tf.js';
import { boostedOutput } from './boost.js';
import type { HeadSpec } from './head-spec.js';
import { VOID_LABEL } from '../image/types.js';

export interface HeadLossAndGradient {
  /** The loss the table reports (mean over valid pixels). */
  loss: tf.Scalar;
  /** The gradient handed to the logits, [N, H, W, K]; zero at void pixels. */
  grad: tf.Tensor4D;
  /** Number of valid (non-void) pixels, float32. */
  validPixels: tf.Scalar;
}

export interface Head {
  readonly spec: HeadSpec;
  readonly numClasses: number;
  /** Loss, logit gradient and valid-pixel count for logits [N,H,W,K] and int32 labels [N,H,W]. */
  lossAndGradient(logits: tf.Tensor4D, labels: tf.Tensor3D): HeadLossAndGradient;
  /** The loss as a differentiable scalar whose gradient w.r.t. `logits` is exactly `grad` above. */
  loss(logits: tf.Tensor4D, labels: tf.Tensor3D): tf.Scalar;
  /** Class per pixel: int32 argmax over K. */
  predict(logits: tf.Tensor4D): tf.Tensor3D;
  /**
   * What multi-scale / flip inference averages before the argmax: softmax probabilities,
   * the boosted outputs alpha * boost(z) + beta for egb, z itself for linear. All are
   * monotonic in z per class, so the argmax of one score map equals `predict`.
   */
  scores(logits: tf.Tensor4D): tf.Tensor4D;
}

function checkShapes(logits: tf.Tensor4D, labels: tf.Tensor3D, numClasses: number): void {
  if (logits.rank !== 4 || labels.rank !== 3) {
    throw new Error(`head: expected logits [N,H,W,K] and labels [N,H,W], got [${logits.shape}] and [${labels.shape}]`);
  }
  const [n, h, w, k] = logits.shape;
  if (k !== numClasses) throw new Error(`head: logits have ${k} classes, the head was made for ${numClasses}`);
  const [ln, lh, lw] = labels.shape;
  if (ln !== n || lh !== h || lw !== w) {
    throw new Error(`head: logits [${logits.shape}] and labels [${labels.shape}] differ in N, H or W`);
  }
}

class OutputHead implements Head {
  constructor(
    readonly spec: HeadSpec,
    readonly numClasses: number,
  ) {}

  lossAndGradient(logits: tf.Tensor4D, labels: tf.Tensor3D): HeadLossAndGradient {
    checkShapes(logits, labels, this.numClasses);
    return tf.tidy(() => {
      const z = logits.dtype === 'float32' ? logits : tf.cast(logits, 'float32');
      const ints = labels.dtype === 'int32' ? labels : tf.cast(labels, 'int32');
      const valid = tf.notEqual(ints, VOID_LABEL);
      // Void labels become class 0 for the one-hot; the mask zeroes them afterwards.
      const target = tf.cast(tf.oneHot(tf.where(valid, ints, tf.zerosLike(ints)), this.numClasses), 'float32');
      const mask = tf.expandDims(tf.cast(valid, 'float32'), -1);
      const validPixels = tf.sum(tf.cast(valid, 'float32'));
      const denom = tf.maximum(validPixels, 1); // N = 0: numerators are all 0, so 0 / 1

      const spec = this.spec;
      if (spec.kind === 'softmax') {
        const logP = tf.logSoftmax(z);
        const ce = tf.sum(tf.mul(tf.mul(target, tf.neg(logP)), mask));
        const grad = tf.div(tf.mul(tf.sub(tf.exp(logP), target), mask), denom);
        return { loss: tf.div(ce, denom) as tf.Scalar, grad: grad as tf.Tensor4D, validPixels: validPixels as tf.Scalar };
      }
      const y = spec.kind === 'egb' ? boostedOutput(z, spec.boost, spec.alpha, spec.beta) : z;
      const err = tf.mul(tf.sub(y, target), mask);
      // Scale by 1/sqrt(N) before squaring so the sum stays finite for large errors.
      const scaled = tf.mul(err, tf.rsqrt(denom));
      const loss = tf.mul(tf.sum(tf.square(scaled)), 0.5);
      const grad = tf.div(err, denom);
      return { loss: loss as tf.Scalar, grad: grad as tf.Tensor4D, validPixels: validPixels as tf.Scalar };
    });
  }

  loss(logits: tf.Tensor4D, labels: tf.Tensor3D): tf.Scalar {
    const withHeadGradient = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      const z = args[0] as tf.Tensor4D;
      const save = args[1] as tf.GradSaveFunc;
      const { loss, grad, validPixels } = this.lossAndGradient(z, labels);
      validPixels.dispose();
      save([grad]);
      return {
        value: loss,
        gradFunc: (dy: tf.Scalar, saved: tf.Tensor[]) => tf.mul(dy, saved[0]),
      };
    });
    return withHeadGradient(logits);
  }

  predict(logits: tf.Tensor4D): tf.Tensor3D {
    return tf.argMax(logits, 3) as tf.Tensor3D;
  }

  scores(logits: tf.Tensor4D): tf.Tensor4D {
    const spec = this.spec;
    if (spec.kind === 'softmax') return tf.softmax(logits);
    if (spec.kind === 'egb') return boostedOutput(logits, spec.boost, spec.alpha, spec.beta);
    return tf.clone(logits);
  }
}

/** The head for a spec; `numClasses` must match the logits' last dimension. */
export function createHead(spec: HeadSpec, numClasses: number): Head {
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new Error(`head: numClasses must be a positive integer, got ${numClasses}`);
  }
  return new OutputHead(spec, numClasses);
}
