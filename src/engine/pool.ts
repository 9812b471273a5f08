/** Pooling with PyTorch semantics (ResNet stem max pool, ASPP image pooling). */
import { tf } from './tf.js';

type T4 = tf.Tensor4D;

/** Spread [N,Ho,Wo,C] onto the even cells of a [N,2Ho,2Wo,C] grid (zeros elsewhere). */
function spreadEven(t: T4): T4 {
  const [n, h, w, c] = t.shape;
  return tf
    .pad(t.reshape([n, h, 1, w, 1, c]), [[0, 0], [0, 0], [0, 1], [0, 0], [0, 1], [0, 0]])
    .reshape([n, 2 * h, 2 * w, c]) as T4;
}

/** Cells (2i + a, 2j + b) of a padded [N, 2Ho+2, 2Wo+2, C] grid, as [N,Ho,Wo,C]. */
function takeOffset(xp: T4, a: number, b: number, ho: number, wo: number): T4 {
  const [n, , , c] = xp.shape;
  return xp
    .slice([0, a, b, 0], [n, 2 * ho, 2 * wo, c])
    .reshape([n, ho, 2, wo, 2, c])
    .slice([0, 0, 0, 0, 0, 0], [n, ho, 1, wo, 1, c])
    .reshape([n, ho, wo, c]) as T4;
}

/**
 * Max-pool gradient from forward ops: each output's gradient goes to the first cell of its
 * window (scan order, as PyTorch) that equals the max. Written out because the wasm
 * backend's MaxPoolGrad drops gradients for some shapes with padding (seen in tfjs 4.22).
 */
function maxPoolGradient(x: T4, y: T4, dy: T4): T4 {
  const [n, h, w, c] = x.shape;
  const [, ho, wo] = y.shape;
  const xp = tf.pad(x, [[0, 0], [1, 2 * ho + 1 - h], [1, 2 * wo + 1 - w], [0, 0]], -Infinity) as T4;
  let taken = tf.zerosLike(y).cast('bool');
  let dxp = tf.zeros([n, 2 * ho + 2, 2 * wo + 2, c]) as T4;
  for (let a = 0; a < 3; a++) {
    for (let b = 0; b < 3; b++) {
      const hit = tf.logicalAnd(tf.equal(takeOffset(xp, a, b, ho, wo), y), tf.logicalNot(taken));
      taken = tf.logicalOr(taken, hit);
      const routed = tf.where(hit, dy, tf.zerosLike(dy)) as T4;
      dxp = tf.add(dxp, tf.pad(spreadEven(routed), [[0, 0], [a, 2 - a], [b, 2 - b], [0, 0]])) as T4;
    }
  }
  return dxp.slice([0, 1, 1, 0], [n, h, w, c]);
}

/**
 * Max pool, kernel 3, stride 2, padding 1 (torchvision's ResNet stem). Padded cells never
 * win (as PyTorch's -inf padding); output size floor((H - 1) / 2) + 1.
 */
export function maxPool3x3s2(x: T4): T4 {
  if (tf.getBackend() === 'tensorflow') return tf.maxPool(x, 3, 2, 1);
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xi, save] = args as [T4, tf.GradSaveFunc];
    const y = tf.maxPool(xi, 3, 2, 1);
    save([xi, y]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ys] = saved as [T4, T4];
        return [maxPoolGradient(xs, ys, dy as T4)];
      },
    };
  });
  return op(x) as T4;
}

/** Global average pool over H and W, keeping them as size 1: N,1,1,C. */
export function globalAvgPool(x: T4): T4 {
  return tf.mean(x, [1, 2], true) as T4;
}
