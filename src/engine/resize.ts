/**
 * Bilinear resize with PyTorch's align_corners=False semantics, as two plain 2-D matMuls
 * with precomputed interpolation matrices. Its gradient is two more plain matMuls with the
 * transposed matrices (precomputed too: wasm's transposed matMul is several times slower),
 * so it trains on every backend and matches F.interpolate exactly.
 */
import { tf } from './tf.js';

type T4 = tf.Tensor4D;

/** Row i holds the weights of output i over the input positions (PyTorch, align_corners=False). */
export function interpolationMatrix(inSize: number, outSize: number): Float32Array {
  const m = new Float32Array(outSize * inSize);
  const scale = inSize / outSize;
  for (let i = 0; i < outSize; i++) {
    const src = Math.max(0, (i + 0.5) * scale - 0.5);
    const i0 = Math.min(Math.floor(src), inSize - 1);
    const i1 = Math.min(i0 + 1, inSize - 1);
    const frac = src - i0;
    m[i * inSize + i0] = (m[i * inSize + i0] ?? 0) + (1 - frac);
    m[i * inSize + i1] = (m[i * inSize + i1] ?? 0) + frac;
  }
  return m;
}

function transposeMatrix(m: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(m.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = m[r * cols + c] as number;
  return t;
}

/** A @ X for a constant A, with dX = A^T @ dY through a plain (untransposed) matMul. */
function constantMatMul(a: Float32Array, rows: number, cols: number, x: tf.Tensor2D): tf.Tensor2D {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const xi = args[0] as tf.Tensor2D;
    const value = tf.matMul(tf.tensor2d(a, [rows, cols]), xi);
    return {
      value,
      gradFunc: (dy: tf.Tensor) => [tf.matMul(tf.tensor2d(transposeMatrix(a, rows, cols), [cols, rows]), dy as tf.Tensor2D)],
    };
  });
  return op(x) as tf.Tensor2D;
}

/** Resize NHWC x to [outH, outW] bilinearly (PyTorch align_corners=False). */
export function resizeBilinear(x: T4, size: [number, number]): T4 {
  const [n, h, w, c] = x.shape;
  const [outH, outW] = size;
  if (outH === h && outW === w) return x;
  // Along H: [H, N*W*C] -> [outH, N*W*C].
  let t: tf.Tensor = x.transpose([1, 0, 2, 3]).reshape([h, n * w * c]);
  t = outH === h ? t : constantMatMul(interpolationMatrix(h, outH), outH, h, t as tf.Tensor2D);
  // Along W: [W, N*outH*C] -> [outW, N*outH*C].
  t = t.reshape([outH, n, w, c]).transpose([2, 1, 0, 3]).reshape([w, n * outH * c]);
  t = outW === w ? t : constantMatMul(interpolationMatrix(w, outW), outW, w, t as tf.Tensor2D);
  return t.reshape([outW, n, outH, c]).transpose([1, 2, 0, 3]) as T4;
}
