/** The streamed sliding-window inference: exact resizing of bands, bounded memory, per-window progress. */
import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { interpolationMatrix, resizeBilinear } from '../../src/backend/resize.js';
import { interpolationBlock, resizeBlock, streamSlideScores, type WindowRunner } from '../../src/inference/slide-stream.js';
import { slideWindows } from '../../src/inference/sliding-window.js';
import { createHead } from '../../src/heads/head.js';
import { Rng } from '../../src/core/random.js';

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
});

function random(n: number, seed: number): Float32Array {
  const rng = new Rng(seed, 'slide-stream');
  return Float32Array.from({ length: n }, () => rng.normal());
}

describe('resizing a band', () => {
  it('interpolationBlock holds exactly the rows of the interpolation matrix, cut to the inputs they use', () => {
    for (const [inSize, outSize] of [
      [37, 46],
      [46, 37],
      [10, 3],
      [3, 10],
      [7, 7],
    ] as const) {
      const full = interpolationMatrix(inSize, outSize);
      for (const [o0, o1] of [
        [0, outSize],
        [1, Math.min(outSize, 4)],
        [outSize - 1, outSize],
      ] as const) {
        const { lo, hi, block } = interpolationBlock(inSize, outSize, o0, o1);
        for (let o = o0; o < o1; o++) {
          for (let i = 0; i < inSize; i++) {
            const inside = i >= lo && i <= hi;
            expect(inside ? block[(o - o0) * (hi - lo + 1) + i - lo] : 0).toBe(full[o * inSize + i]);
          }
        }
      }
    }
  });

  it('resizeBlock gives the same bits as the same rows and columns of resizeBilinear', () => {
    const [h, w, c] = [37, 29, 5];
    const data = random(h * w * c, 1);
    const rows = (r: number): Float32Array => data.subarray(r * w * c, (r + 1) * w * c);
    for (const [outH, outW] of [
      [46, 36],
      [19, 15],
      [37, 29],
      [37, 60],
    ] as const) {
      const full = tf.tidy(() => resizeBilinear(tf.tensor4d(data, [1, h, w, c]), [outH, outW]).dataSync());
      for (const [ys, xs] of [
        [
          [0, outH],
          [0, outW],
        ],
        [
          [3, 11],
          [5, 13],
        ],
        [
          [outH - 2, outH],
          [outW - 1, outW],
        ],
      ] as const) {
        const block = resizeBlock(rows, [h, w, c], [outH, outW], [ys[0], ys[1]], [xs[0], xs[1]]);
        const got = block.dataSync();
        block.dispose();
        const nx = xs[1] - xs[0];
        for (let y = ys[0]; y < ys[1]; y++) {
          for (let x = xs[0]; x < xs[1]; x++) {
            for (let k = 0; k < c; k++) {
              expect(got[((y - ys[0]) * nx + x - xs[0]) * c + k]).toBe(full[(y * outW + x) * c + k]);
            }
          }
        }
      }
    }
  });
});

describe('streamSlideScores', () => {
  it('averages the windows (a runner whose scores know the window row), holds a bounded number of rows, and reports each window', async () => {
    const [h, w, k, window] = [300, 64, 3, 32];
    const image = new Float32Array(h * w * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) image[(y * w + x) * 3] = y + x / 100;
    // Scores of pixel (y, x) in a window: [value, value + local row, 2 * local column].
    const runner: WindowRunner = {
      numClasses: k,
      meanScores: async (images) => {
        const [, wh, ww] = images.shape;
        const px = (await images.data()) as Float32Array;
        const out = new Float32Array(wh * ww * k);
        for (let y = 0; y < wh; y++) {
          for (let x = 0; x < ww; x++) {
            const v = px[(y * ww + x) * 3] as number;
            out.set([v, v + y, 2 * x], (y * ww + x) * k);
          }
        }
        return out;
      },
      logits: () => Promise.reject(new Error('not used: the image is larger than the window')),
    };
    const windows = slideWindows(h, w, window, 1 / 3);
    const progress: [number, number][] = [];
    const got = new Float32Array(h * w * k);
    const bands: number[] = [];
    const stats = await streamSlideScores(
      runner,
      createHead({ kind: 'linear' }, k),
      image,
      h,
      w,
      { scales: [1], flip: false, window, overlap: 1 / 3, bandBytes: 10 * w * k * 4, onWindow: (d, t) => progress.push([d, t]) },
      (top, rows, scores) => {
        bands.push(rows);
        got.set(scores, top * w * k);
      },
    );
    // Independent reference: every window that covers a pixel, by brute force.
    for (let y = 0; y < h; y += 7) {
      for (let x = 0; x < w; x += 3) {
        const over = windows.filter((win) => y >= win.top && y < win.top + win.height && x >= win.left && x < win.left + win.width);
        const v = y + x / 100;
        const expected = [
          v,
          v + over.reduce((s, win) => s + y - win.top, 0) / over.length,
          over.reduce((s, win) => s + 2 * (x - win.left), 0) / over.length,
        ];
        for (let j = 0; j < k; j++) expect(got[(y * w + x) * k + j]).toBeCloseTo(expected[j] as number, 3);
      }
    }
    expect(bands.every((b) => b <= 10)).toBe(true);
    expect(bands.reduce((a, b) => a + b, 0)).toBe(h);
    expect(stats.bandRows).toBe(10);
    // At most a window of rows being summed plus a band and a stride ready: not the image's 300.
    expect(stats.peakRows).toBeLessThanOrEqual(window + 10 + window);
    expect(progress.length).toBe(windows.length);
    expect(progress[progress.length - 1]).toEqual([windows.length, windows.length]);
  });
});
