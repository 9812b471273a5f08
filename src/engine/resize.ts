/**
 * Bilinear resize with PyTorch's align_corners=False semantics, as two plain 2-D matMuls
 * with precomputed interpolation matrices. Its gradient is two more plain matMuls with the
 * transposed matrices (precomputed too: wasm's transposed matMul is several times slower),
 * so it trains on every backend and matches F.interpolate exactly.
 */
import { tf } from './tf.js';
import { usesHostLoops } from './rearrange.js';
import { activeBackendTraits } from './backend-traits.js';

type T4 = tf.Tensor4D;

/** Interpolation matrices kept on the device, by backend and sizes (most recent last). */
const deviceMatrices = new Map<string, tf.Tensor2D>();
const MAX_DEVICE_MATRICES = 64;

/**
 * The constant matrix as a tensor. On GPU backends it is uploaded once and kept (an upload
 * per step costs more than the matMul); on wasm/cpu it is made fresh (the caller's tidy
 * disposes it), so that those backends hold no tensors between calls.
 */
function constantMatrix(kind: 'm' | 't', inSize: number, outSize: number, make: () => Float32Array, shape: [number, number]): tf.Tensor2D {
  if (usesHostLoops()) return tf.tensor2d(make(), shape);
  const key = `${activeBackendTraits().name}:${kind}:${inSize}:${outSize}`;
  const cached = deviceMatrices.get(key);
  if (cached !== undefined && !cached.isDisposed) {
    deviceMatrices.delete(key);
    deviceMatrices.set(key, cached);
    return cached;
  }
  const made = tf.keep(tf.tensor2d(make(), shape));
  deviceMatrices.set(key, made);
  if (deviceMatrices.size > MAX_DEVICE_MATRICES) {
    const [oldestKey, oldest] = deviceMatrices.entries().next().value as [string, tf.Tensor2D];
    deviceMatrices.delete(oldestKey);
    oldest.dispose();
  }
  return made;
}

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

/** A @ X for the interpolation matrix A (cols -> rows), with dX = A^T @ dY through a plain (untransposed) matMul. */
function constantMatMul(cols: number, rows: number, x: tf.Tensor2D): tf.Tensor2D {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const xi = args[0] as tf.Tensor2D;
    const value = tf.matMul(
      constantMatrix('m', cols, rows, () => interpolationMatrix(cols, rows), [rows, cols]),
      xi,
    );
    return {
      value,
      gradFunc: (dy: tf.Tensor) => [
        tf.matMul(
          constantMatrix('t', cols, rows, () => transposeMatrix(interpolationMatrix(cols, rows), rows, cols), [cols, rows]),
          dy as tf.Tensor2D,
        ),
      ],
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
  t = outH === h ? t : constantMatMul(h, outH, t as tf.Tensor2D);
  // Along W: [W, N*outH*C] -> [outW, N*outH*C].
  t = t
    .reshape([outH, n, w, c])
    .transpose([2, 1, 0, 3])
    .reshape([w, n * outH * c]);
  t = outW === w ? t : constantMatMul(w, outW, t as tf.Tensor2D);
  return t.reshape([outW, n, outH, c]).transpose([1, 2, 0, 3]) as T4;
}
