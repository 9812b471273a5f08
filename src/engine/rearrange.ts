/**
 * The rearrangements of the conv and max-pool backward, in two versions.
 *
 * On wasm and cpu, tfjs's reverse, high-rank pad/slice and transpose kernels are far slower
 * than a JS loop over the data (measured: flipping a 3x3x512x512 filter took ~100 ms with
 * tf.reverse, a few ms as a loop), so there the data is read and rearranged in JS. Every other
 * backend (webgpu, tensorflow, any other) keeps the data on the device: it gets tensor-op
 * versions, which never read a tensor back, and equal the loops exactly.
 */
import { tf } from './tf.js';
import { activeBackendTraits } from './backend-traits.js';

type T4 = tf.Tensor4D;

let forcedTensorOps = false;

/** Use the tensor-op versions on every backend (tests compare both paths on cpu and wasm). */
export function forceTensorOpRearrange(on: boolean): void {
  forcedTensorOps = on;
}

/** Whether the JS-loop versions (synchronous reads) run: only where tensors live on the host (wasm, cpu). */
export function usesHostLoops(): boolean {
  return !forcedTensorOps && activeBackendTraits().hostTensors;
}

/** w[a, b, ci, co] -> out[k-1-a, k-1-b, co, ci]: the filter of the input-gradient conv. */
export function flipAndSwapChannels(w: T4): T4 {
  return usesHostLoops() ? flipAndSwapChannelsLoop(w) : flipAndSwapChannelsOps(w);
}

/** Insert (stride - 1) zeros between rows and columns: [N,H,W,C] -> [N,(H-1)s+1,(W-1)s+1,C]. */
export function zeroInsert(dy: T4, stride: number): T4 {
  if (stride === 1) return dy;
  return usesHostLoops() ? zeroInsertLoop(dy, stride) : zeroInsertOps(dy, stride);
}

/**
 * Gradient of a 3x3 / stride 2 / padding 1 max pool: each output's gradient goes to the
 * first cell of its window (row-major scan, strict >) holding the max, as PyTorch does.
 */
export function maxPool3x3s2Gradient(x: T4, dy: T4): T4 {
  return usesHostLoops() ? maxPool3x3s2GradientLoop(x, dy) : maxPool3x3s2GradientOps(x, dy);
}

export function flipAndSwapChannelsLoop(w: T4): T4 {
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

export function flipAndSwapChannelsOps(w: T4): T4 {
  return tf.tidy(() => {
    const flipped = w.shape[0] === 1 && w.shape[1] === 1 ? w : tf.reverse(w, [0, 1]);
    return tf.transpose(flipped, [0, 1, 3, 2]);
  });
}

export function zeroInsertLoop(dy: T4, stride: number): T4 {
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

/** Rank-4 only: each row, then each column, gets (stride - 1) zero neighbours after it. */
export function zeroInsertOps(dy: T4, stride: number): T4 {
  if (stride === 1) return dy;
  const [n, h, w, c] = dy.shape;
  return tf.tidy((): T4 => {
    const rows = tf.pad(dy.reshape([n, h, 1, w * c]), [
      [0, 0],
      [0, 0],
      [0, stride - 1],
      [0, 0],
    ]);
    const cols = tf.pad(rows.reshape([n * h * stride, w, 1, c]), [
      [0, 0],
      [0, 0],
      [0, stride - 1],
      [0, 0],
    ]);
    return (cols.reshape([n, h * stride, w * stride, c]) as T4).slice([0, 0, 0, 0], [n, (h - 1) * stride + 1, (w - 1) * stride + 1, c]);
  });
}

export function maxPool3x3s2GradientLoop(x: T4, dy: T4): T4 {
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

/**
 * The same rule with tensor ops: x padded with -inf, the nine window cells as strided
 * slices, scanned in row-major order so that only the first maximum takes the gradient,
 * each cell's share put back at its place by zero insertion and padding, and summed in the
 * loop's order (so the result is bit-identical).
 */
export function maxPool3x3s2GradientOps(x: T4, dy: T4): T4 {
  const [n, h, w, c] = x.shape;
  const [, ho, wo] = dy.shape;
  return tf.tidy(() => {
    const hp = 2 * ho + 1;
    const wp = 2 * wo + 1;
    const xp = tf.pad(
      x,
      [
        [0, 0],
        [1, hp - h - 1],
        [1, wp - w - 1],
        [0, 0],
      ],
      -Infinity,
    );
    const cells: tf.Tensor4D[] = [];
    for (let a = 0; a < 3; a++) {
      for (let b = 0; b < 3; b++) {
        cells.push(tf.stridedSlice(xp, [0, a, b, 0], [n, a + 2 * ho - 1, b + 2 * wo - 1, c], [1, 2, 2, 1]) as T4);
      }
    }
    const max = cells.reduce((m, v) => tf.maximum(m, v));
    const zeros = tf.zerosLike(dy);
    let remaining: T4 = dy;
    const placed: T4[] = [];
    cells.forEach((v, k) => {
      const a = Math.floor(k / 3);
      const b = k % 3;
      const isMax = tf.equal(v, max);
      const share: T4 = tf.where(isMax, remaining, zeros);
      remaining = tf.where(isMax, zeros, remaining);
      placed.push(
        tf.pad(zeroInsertOps(share, 2), [
          [0, 0],
          [a, hp - a - (2 * ho - 1)],
          [b, wp - b - (2 * wo - 1)],
          [0, 0],
        ]),
      );
    });
    // Summed last cell first: the order in which the loop's windows (row-major) add to a cell.
    const sum = placed.reduceRight((acc, p) => tf.add<T4>(acc, p));
    return sum.slice([0, 1, 1, 0], [n, h, w, c]);
  });
}
