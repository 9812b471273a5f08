/**
 * Batch normalisation over N, H, W of an NHWC tensor. The training form has a closed-form
 * backward (one fused expression instead of autodiff through moments), which matters on
 * wasm where every elementwise op is a full pass over the activation.
 */
import { tf } from './tf.js';
import { fusedBatchNormInputGrad } from './fused-batch-norm.js';

type T4 = tf.Tensor4D;
type T1 = tf.Tensor1D;

export interface BatchNormTrainResult {
  y: T4;
  /** Batch mean per channel. */
  mean: T1;
  /** Biased batch variance per channel (what normalises y). */
  variance: T1;
}

/**
 * Training-mode batch norm: batch statistics; gradients for x, gamma and beta. The statistics
 * are computed once (mean, centred, variance) and shared by the normalisation and the
 * running-statistics update: no kernel runs twice.
 */
export function batchNormTrain(x: T4, gamma: T1, beta: T1, eps = 1e-5): BatchNormTrainResult {
  const mean = tf.mean(x, [0, 1, 2]) as T1;
  const centredX = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centredX), [0, 1, 2]) as T1;
  // x's gradient is the closed form below, so the statistics enter as constants.
  const normalise = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [, g, b, save] = args as [T4, T1, T1, tf.GradSaveFunc];
    const centred = centredX;
    const rstd = tf.rsqrt(tf.add(variance, eps));
    const xhat = tf.mul(centred, rstd);
    save([xhat, rstd, g]);
    return {
      value: tf.add(tf.mul(xhat, g), b) as T4,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xh, rs, gs] = saved as [T4, T1, T1];
        const dBeta = tf.sum(dy, [0, 1, 2]);
        const dGamma = tf.sum(tf.mul(dy, xh), [0, 1, 2]);
        const fused = fusedBatchNormInputGrad(dy, xh, dBeta, dGamma, gs, rs);
        if (fused !== undefined) return [fused, dGamma, dBeta];
        const count = xh.size / xh.shape[3];
        // dx = gamma * rstd * (dy - mean(dy) - xhat * mean(dy * xhat))
        const dx = tf.mul(tf.mul(gs, rs), tf.sub(tf.sub(dy, tf.div(dBeta, count)), tf.mul(xh, tf.div(dGamma, count))));
        return [dx, dGamma, dBeta];
      },
    };
  });
  return { y: normalise(x, gamma, beta) as T4, mean, variance };
}

/** Inference-mode batch norm with running statistics (also used with frozen BN in training). */
export function batchNormInfer(x: T4, gamma: T1, beta: T1, runningMean: T1, runningVar: T1, eps = 1e-5): T4 {
  const scale = tf.mul(gamma, tf.rsqrt(tf.add(runningVar, eps)));
  const shift = tf.sub(beta, tf.mul(runningMean, scale));
  return tf.add(tf.mul(x, scale), shift) as T4;
}
