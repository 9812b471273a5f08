/** Pooling with PyTorch semantics (ResNet stem max pool, ASPP image pooling). */
import { tf } from './tf.js';
import { maxPool3x3s2Gradient } from './rearrange.js';
import { activeBackendTraits } from './backend-traits.js';

type T4 = tf.Tensor4D;

/**
 * Max pool, kernel 3, stride 2, padding 1 (torchvision's ResNet stem). Padded cells never
 * win (as PyTorch's -inf padding); output size floor((H - 1) / 2) + 1.
 */
export function maxPool3x3s2(x: T4): T4 {
  if (activeBackendTraits().nativePoolGradient) return tf.maxPool(x, 3, 2, 1);
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xi, save] = args as [T4, tf.GradSaveFunc];
    const y = tf.maxPool(xi, 3, 2, 1);
    save([xi]);
    return {
      value: y,
      // wasm's MaxPoolGrad drops gradients for some padded shapes (tfjs 4.22), so the
      // gradient is computed here, with PyTorch's tie rule.
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [maxPool3x3s2Gradient(saved[0] as T4, dy as T4)],
    };
  });
  return op(x) as T4;
}

/** Global average pool over H and W, keeping them as size 1: N,1,1,C. */
export function globalAvgPool(x: T4): T4 {
  return tf.mean(x, [1, 2], true) as T4;
}
