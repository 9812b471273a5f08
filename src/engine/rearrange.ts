/**
 * Memory-bound rearrangements done in plain JS on typed arrays. On wasm and cpu, tfjs's
 * reverse, high-rank pad/slice and transpose kernels are far slower than a JS loop over the
 * data (measured: flipping a 3x3x512x512 filter took ~100 ms with tf.reverse, a few ms here),
 * and these run once per conv per backward pass. The tensorflow backend never calls them.
 */
import { tf } from './tf.js';

type T4 = tf.Tensor4D;

/** w[a, b, ci, co] -> out[k-1-a, k-1-b, co, ci]: the filter of the input-gradient conv. */
export function flipAndSwapChannels(w: T4): T4 {
  const [k, k2, cin, cout] = w.shape;
  const src = w.dataSync();
  const out = new Float32Array(src.length);
  for (let a = 0; a < k; a++) {
    for (let b = 0; b < k2; b++) {
      const from = (a * k2 + b) * cin * cout;
      const to = ((k - 1 - a) * k2 + (k2 - 1 - b)) * cout * cin;
      for (let ci = 0; ci < cin; ci++) {
        for (let co = 0; co < cout; co++) out[to + co * cin + ci] = src[from + ci * cout + co] as number;
      }
    }
  }
  return tf.tensor4d(out, [k, k2, cout, cin]);
}

/** Insert (stride - 1) zeros between rows and columns: [N,H,W,C] -> [N,(H-1)s+1,(W-1)s+1,C]. */
export function zeroInsert(dy: T4, stride: number): T4 {
  if (stride === 1) return dy;
  const [n, h, w, c] = dy.shape;
  const oh = (h - 1) * stride + 1;
  const ow = (w - 1) * stride + 1;
  const src = dy.dataSync();
  const out = new Float32Array(n * oh * ow * c);
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        const from = ((b * h + i) * w + j) * c;
        out.set(src.subarray(from, from + c), ((b * oh + i * stride) * ow + j * stride) * c);
      }
    }
  }
  return tf.tensor4d(out, [n, oh, ow, c]);
}

/**
 * Gradient of a 3x3 / stride 2 / padding 1 max pool: each output's gradient goes to the
 * first cell of its window (row-major scan, strict >) holding the max, as PyTorch does.
 */
export function maxPool3x3s2Gradient(x: T4, dy: T4): T4 {
  const [n, h, w, c] = x.shape;
  const [, ho, wo] = dy.shape;
  const xs = x.dataSync();
  const ds = dy.dataSync();
  const out = new Float32Array(xs.length);
  const bestVal = new Float32Array(c);
  const bestIdx = new Int32Array(c);
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < ho; i++) {
      for (let j = 0; j < wo; j++) {
        bestVal.fill(-Infinity);
        bestIdx.fill(-1);
        for (let a = 0; a < 3; a++) {
          const r = 2 * i + a - 1;
          if (r < 0 || r >= h) continue;
          for (let bb = 0; bb < 3; bb++) {
            const q = 2 * j + bb - 1;
            if (q < 0 || q >= w) continue;
            const base = ((b * h + r) * w + q) * c;
            for (let ch = 0; ch < c; ch++) {
              const v = xs[base + ch] as number;
              if (v > (bestVal[ch] as number) || (bestIdx[ch] === -1 && Number.isNaN(v))) {
                bestVal[ch] = v;
                bestIdx[ch] = base + ch;
              }
            }
          }
        }
        const dyBase = ((b * ho + i) * wo + j) * c;
        for (let ch = 0; ch < c; ch++) {
          const idx = bestIdx[ch] as number;
          if (idx >= 0) out[idx] = (out[idx] as number) + (ds[dyBase + ch] as number);
        }
      }
    }
  }
  return tf.tensor4d(out, [n, h, w, c]);
}
