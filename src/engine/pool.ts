/** Pooling with PyTorch semantics (ResNet stem max pool, ASPP image pooling). */
import { tf } from './tf.js';

type T4 = tf.Tensor4D;

/**
 * Max pool, kernel 3, stride 2, padding 1 (torchvision's ResNet stem). Padded cells never
 * win (as PyTorch's -inf padding); output size floor((H - 1) / 2) + 1.
 */
export function maxPool3x3s2(x: T4): T4 {
  return tf.maxPool(x, 3, 2, 1);
}

/** Global average pool over H and W, keeping them as size 1: N,1,1,C. */
export function globalAvgPool(x: T4): T4 {
  return tf.mean(x, [1, 2], true) as T4;
}
