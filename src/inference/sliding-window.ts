/**
 * Sliding-window inference, as mmsegmentation's `mode='slide'`: square windows of `window`
 * pixels step over the (scaled) image with a stride of window - round(window * overlap);
 * the last row and column of windows are shifted back to end at the image border; each
 * window runs at its own size (as a whole image does) and the head's scores of overlapping
 * windows are averaged per pixel. Peak engine memory is that of one window; the averaging is
 * streamed row by row in plain JavaScript memory (slide-stream.ts).
 */
import { SegError } from '../core/errors.js';

export type InferenceMode = 'auto' | 'whole' | 'slide';
export const INFERENCE_MODES: readonly InferenceMode[] = ['auto', 'whole', 'slide'];
export const DEFAULT_WINDOW = 513;
export const DEFAULT_OVERLAP = 1 / 3;

export interface Window {
  top: number;
  left: number;
  height: number;
  width: number;
}

export function validateWindow(window: number, overlap: number): void {
  if (!Number.isInteger(window) || window < 8) throw new SegError(`--window: got ${window}, expected an integer >= 8 (pixels)`, '--window');
  if (!Number.isFinite(overlap) || overlap < 0 || overlap >= 1) {
    throw new SegError(`--overlap: got ${overlap}, expected a fraction of the window in [0, 1), e.g. 1/3`, '--overlap');
  }
}

/** Step between windows: window minus the overlap in pixels (at least 1). */
export function windowStride(window: number, overlap: number): number {
  return Math.max(1, window - Math.round(window * overlap));
}

function starts(size: number, window: number, stride: number): [number, number][] {
  const count = Math.floor(Math.max(size - window + stride - 1, 0) / stride) + 1;
  const out: [number, number][] = [];
  for (let i = 0; i < count; i++) {
    const end = Math.min(i * stride + window, size);
    const start = Math.max(end - window, 0);
    out.push([start, end - start]);
  }
  return out;
}

/** The windows covering a height x width image, row by row (mmsegmentation's grid). */
export function slideWindows(height: number, width: number, window: number, overlap: number): Window[] {
  validateWindow(window, overlap);
  const stride = windowStride(window, overlap);
  const rows = starts(height, window, stride);
  const cols = starts(width, window, stride);
  return rows.flatMap(([top, h]) => cols.map(([left, w]) => ({ top, left, height: h, width: w })));
}

/** Class per pixel of scores [pixels, channels]: the first maximum, as tf.argMax. */
export function argmaxScores(scores: Float32Array, channels: number): Uint8Array {
  const pixels = scores.length / channels;
  const out = new Uint8Array(pixels);
  for (let p = 0; p < pixels; p++) {
    let best = 0;
    let bestValue = scores[p * channels] as number;
    for (let c = 1; c < channels; c++) {
      const v = scores[p * channels + c] as number;
      if (v > bestValue) {
        bestValue = v;
        best = c;
      }
    }
    out[p] = best;
  }
  return out;
}
