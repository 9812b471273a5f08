/**
 * Sliding-window inference streamed band by band, so that memory stays bounded on huge
 * images: the averaged score map (H x W x K floats: 8.4 GB for a 10000x10000 image at 21
 * classes) is never held. Each scale is a source of rows of its own map, produced in order
 * and dropped once the output no longer needs them:
 * - a scale whose image is larger than the window slides windows row by row (mmsegmentation's
 *   grid); after each row of windows the rows above the next row's top are final (sum over
 *   the windows that covered them, divided by their count), so at most one window height of
 *   rows is held;
 * - a scale whose image fits in one window runs once as a whole image; its logits are kept
 *   (at most window x window x K) and resized per band before the head's scores, exactly as
 *   whole-image inference does.
 * Output rows come in bands of about BAND_BYTES: each scale's rows are resized bilinearly to
 * the image's size (PyTorch align_corners=False, as backend/resize.ts), averaged over scales,
 * and handed to the caller (the argmax for a mask). Scaled windows are cut from the
 * normalised image on the CPU, so no tensor of the whole image is made either.
 */
import { tf } from '../backend/tf.js';
import type { Head } from '../heads/head.js';
import { slideWindows, type Window } from './sliding-window.js';

type T4 = tf.Tensor4D;

/** Output rows per band: about this many bytes of scores (at least one row). */
const BAND_BYTES = 32 * 2 ** 20;

/**
 * Rows [o0, o1) of backend/resize.ts's interpolation matrix (inSize -> outSize), restricted to
 * the input positions they use, [lo, hi]: the same float32 entries, accumulated the same
 * way. A matMul with this block gives exactly the rows of the full matMul (only zero terms
 * are left out), so a band resized here equals the same rows of resizeBilinear bit for bit.
 */
export function interpolationBlock(
  inSize: number,
  outSize: number,
  o0: number,
  o1: number,
): { lo: number; hi: number; block: Float32Array } {
  const scale = inSize / outSize;
  const taps: [number, number, number][] = [];
  let lo = inSize;
  let hi = 0;
  for (let i = o0; i < o1; i++) {
    const src = Math.max(0, (i + 0.5) * scale - 0.5);
    const i0 = Math.min(Math.floor(src), inSize - 1);
    const i1 = Math.min(i0 + 1, inSize - 1);
    taps.push([i0, i1, src - i0]);
    lo = Math.min(lo, i0);
    hi = Math.max(hi, i1);
  }
  const n = hi - lo + 1;
  const block = new Float32Array((o1 - o0) * n);
  taps.forEach(([i0, i1, frac], r) => {
    block[r * n + i0 - lo] = (block[r * n + i0 - lo] as number) + (1 - frac);
    block[r * n + i1 - lo] = (block[r * n + i1 - lo] as number) + frac;
  });
  return { lo, hi, block };
}

/** Output rows per block of columns when resizing a band (keeps the matrices small). */
const COLUMN_BLOCK = 1024;

/**
 * Rows [y0, y1) x columns [x0, x1) of a map (h x w x c, read row by row through `row`)
 * resized bilinearly to outH x outW, as resizeBilinear computes them (along H, then W), as a
 * tensor [y1 - y0, x1 - x0, c]; only the rows and columns those outputs use are read.
 */
export function resizeBlock(
  row: (r: number) => Float32Array,
  size: [number, number, number],
  out: [number, number],
  rows: [number, number],
  cols: [number, number],
): tf.Tensor3D {
  const [h, w, c] = size;
  const [outH, outW] = out;
  const [y0, y1] = rows;
  const [x0, x1] = cols;
  const vertical = outH === h ? { lo: y0, hi: y1 - 1, block: undefined } : interpolationBlock(h, outH, y0, y1);
  const horizontal = outW === w ? { lo: x0, hi: x1 - 1, block: undefined } : interpolationBlock(w, outW, x0, x1);
  const ny = vertical.hi - vertical.lo + 1;
  const nx = horizontal.hi - horizontal.lo + 1;
  const data = new Float32Array(ny * nx * c);
  for (let r = 0; r < ny; r++) data.set(row(vertical.lo + r).subarray(horizontal.lo * c, (horizontal.hi + 1) * c), r * nx * c);
  return tf.tidy(() => {
    // Along H: [ny, nx * c] -> [y1 - y0, nx * c]; then along W as resizeBilinear does.
    let t: tf.Tensor2D = tf.tensor2d(data, [ny, nx * c]);
    if (vertical.block !== undefined) t = tf.matMul(tf.tensor2d(vertical.block, [y1 - y0, ny]), t);
    if (horizontal.block === undefined) return t.reshape([y1 - y0, nx, c]) as tf.Tensor3D;
    const byColumn = t
      .reshape([y1 - y0, nx, c])
      .transpose([1, 0, 2])
      .reshape([nx, (y1 - y0) * c]) as tf.Tensor2D;
    const resized = tf.matMul(tf.tensor2d(horizontal.block, [x1 - x0, nx]), byColumn);
    return resized.reshape([x1 - x0, y1 - y0, c]).transpose([1, 0, 2]) as tf.Tensor3D;
  });
}

/** Rows of a row-major H x W x C array. */
function rowsOf(data: Float32Array, width: number, channels: number): (r: number) => Float32Array {
  return (r) => data.subarray(r * width * channels, (r + 1) * width * channels);
}

/** What the streaming needs from a model or an engine: scores of one image (and its mirror) at its own size, and plain logits. */
export interface WindowRunner {
  numClasses: number;
  /** Mean head scores [h * w * K] of images [1, h, w, 3] (averaged with the mirror when flip). */
  meanScores(images: T4, flip: boolean): Promise<Float32Array>;
  /** Logits [h * w * K] of each variant (the image, and its unflipped mirror when flip). */
  logits(images: T4, flip: boolean): Promise<Float32Array[]>;
}

/** Rows of one scale's map, produced in order and released once used. */
interface ScaleSource {
  readonly height: number;
  readonly width: number;
  /** 'scores': one map of averaged scores; 'logits': one map per flip variant, scored after resizing. */
  readonly kind: 'scores' | 'logits';
  /** Produce rows up to `row` (inclusive). */
  ensure(row: number): Promise<void>;
  /** Variant maps of row r (width * K each). */
  row(r: number): Float32Array[];
  /** Forget rows below `row`. */
  release(row: number): void;
  /** Rows of score maps held now (accumulating or ready). */
  held(): number;
}

interface StreamContext {
  runner: WindowRunner;
  image: Float32Array;
  height: number;
  width: number;
  flip: boolean;
  onWindow: () => void;
}

/** A scale larger than the window: windows row by row, each finished row averaged and kept until released. */
function windowedSource(ctx: StreamContext, sh: number, sw: number, window: number, overlap: number): ScaleSource {
  const k = ctx.runner.numClasses;
  const windows = slideWindows(sh, sw, window, overlap);
  const tops = [...new Set(windows.map((w) => w.top))];
  // Windows form a grid: a pixel's count is (windows over its row) x (windows over its column).
  const rowCover = new Uint32Array(sh);
  const colCover = new Uint32Array(sw);
  for (const top of tops) {
    const h = (windows.find((w) => w.top === top) as Window).height;
    for (let r = top; r < top + h; r++) rowCover[r] = (rowCover[r] as number) + 1;
  }
  for (const win of windows.filter((w) => w.top === tops[0])) {
    for (let c = win.left; c < win.left + win.width; c++) colCover[c] = (colCover[c] as number) + 1;
  }
  const imageRows = rowsOf(ctx.image, ctx.width, 3);
  const sums = new Map<number, Float32Array>();
  const ready = new Map<number, Float32Array>();
  let nextTop = 0; // index into tops
  let finalized = 0; // rows < finalized are in `ready` (or released)
  return {
    height: sh,
    width: sw,
    kind: 'scores',
    async ensure(row) {
      while (finalized <= row) {
        const top = tops[nextTop] as number;
        for (const win of windows.filter((w) => w.top === top)) {
          const input = tf.tidy(
            () =>
              resizeBlock(
                imageRows,
                [ctx.height, ctx.width, 3],
                [sh, sw],
                [win.top, win.top + win.height],
                [win.left, win.left + win.width],
              ).expandDims(0) as T4,
          );
          let scores: Float32Array;
          try {
            scores = await ctx.runner.meanScores(input, ctx.flip);
          } finally {
            input.dispose();
          }
          for (let y = 0; y < win.height; y++) {
            const r = win.top + y;
            let sum = sums.get(r);
            if (sum === undefined) {
              sum = new Float32Array(sw * k);
              sums.set(r, sum);
            }
            const src = scores.subarray(y * win.width * k, (y + 1) * win.width * k);
            const at = win.left * k;
            for (let i = 0; i < src.length; i++) sum[at + i] = (sum[at + i] as number) + (src[i] as number);
          }
          ctx.onWindow();
        }
        nextTop += 1;
        const until = nextTop < tops.length ? (tops[nextTop] as number) : sh;
        for (let r = finalized; r < until; r++) {
          const sum = sums.get(r) as Float32Array;
          sums.delete(r);
          const n = rowCover[r] as number;
          for (let c = 0; c < sw; c++) {
            const count = n * (colCover[c] as number);
            for (let j = 0; j < k; j++) sum[c * k + j] = (sum[c * k + j] as number) / count;
          }
          ready.set(r, sum);
        }
        finalized = until;
      }
    },
    row: (r) => [ready.get(r) as Float32Array],
    release(row) {
      for (const r of ready.keys()) if (r < row) ready.delete(r);
    },
    held: () => sums.size + ready.size,
  };
}

/** A scale that fits in one window: its logits (per flip variant) at the scaled size, scored after resizing. */
async function wholeSource(ctx: StreamContext, sh: number, sw: number): Promise<ScaleSource> {
  const k = ctx.runner.numClasses;
  const input = tf.tidy(
    () => resizeBlock(rowsOf(ctx.image, ctx.width, 3), [ctx.height, ctx.width, 3], [sh, sw], [0, sh], [0, sw]).expandDims(0) as T4,
  );
  let variants: Float32Array[];
  try {
    variants = await ctx.runner.logits(input, ctx.flip);
  } finally {
    input.dispose();
  }
  ctx.onWindow();
  return {
    height: sh,
    width: sw,
    kind: 'logits',
    ensure: () => Promise.resolve(),
    row: (r) => variants.map((v) => v.subarray(r * sw * k, (r + 1) * sw * k)),
    release: () => undefined,
    held: () => sh,
  };
}

/** The number of windows (and whole-image runs) the scales take: for progress. */
export function countWindows(height: number, width: number, scales: readonly number[], window: number, overlap: number): number {
  let n = 0;
  for (const s of scales) {
    const [sh, sw] = scaledSize(height, width, s);
    n += sh <= window && sw <= window ? 1 : slideWindows(sh, sw, window, overlap).length;
  }
  return n;
}

export function scaledSize(height: number, width: number, scale: number): [number, number] {
  return [Math.max(1, Math.round(height * scale)), Math.max(1, Math.round(width * scale))];
}

export interface StreamOptions {
  scales: readonly number[];
  flip: boolean;
  window: number;
  overlap: number;
  /** Called after each window (and each whole-image run) with (done, total). */
  onWindow?: (done: number, total: number) => void;
  /** Bytes of scores per output band (default 32 MiB; at least one row). */
  bandBytes?: number;
}

export interface StreamStats {
  /** Most rows of score maps held at once (over all scales): bounded by about a window and a band per scale. */
  peakRows: number;
  /** Output rows per band. */
  bandRows: number;
}

/**
 * Averaged scores of a normalised image (H x W x 3), by sliding windows over each scale,
 * handed to `onBand(top, rows, scores)` band after band (scores: rows x W x K, row-major).
 */
export async function streamSlideScores(
  runner: WindowRunner,
  head: Head,
  image: Float32Array,
  height: number,
  width: number,
  options: StreamOptions,
  onBand: (top: number, rows: number, scores: Float32Array) => void,
): Promise<StreamStats> {
  const k = runner.numClasses;
  const total = countWindows(height, width, options.scales, options.window, options.overlap);
  let done = 0;
  const ctx: StreamContext = {
    runner,
    image,
    height,
    width,
    flip: options.flip,
    onWindow: () => options.onWindow?.(++done, total),
  };
  const sources: ScaleSource[] = [];
  for (const scale of options.scales) {
    const [sh, sw] = scaledSize(height, width, scale);
    sources.push(
      sh <= options.window && sw <= options.window
        ? await wholeSource(ctx, sh, sw)
        : windowedSource(ctx, sh, sw, options.window, options.overlap),
    );
  }
  const band = Math.max(1, Math.min(height, Math.floor((options.bandBytes ?? BAND_BYTES) / (width * k * 4))));
  let peakRows = 0;
  for (let top = 0; top < height; top += band) {
    const rows = Math.min(band, height - top);
    const sum = new Float32Array(rows * width * k);
    for (const source of sources) {
      const hi = sourceRows(source.height, height, top, top + rows)[1];
      await source.ensure(hi);
      peakRows = Math.max(
        peakRows,
        sources.reduce((n, s) => n + s.held(), 0),
      );
      for (let x0 = 0; x0 < width; x0 += COLUMN_BLOCK) {
        const x1 = Math.min(width, x0 + COLUMN_BLOCK);
        const part = await bandOfSource(source, [height, width], [top, top + rows], [x0, x1], k, head);
        for (let y = 0; y < rows; y++) {
          for (let i = 0; i < (x1 - x0) * k; i++) {
            const at = (y * width + x0) * k + i;
            sum[at] = (sum[at] as number) + (part[y * (x1 - x0) * k + i] as number);
          }
        }
      }
      if (top + rows < height) source.release(sourceRows(source.height, height, top + rows, top + rows + 1)[0]);
    }
    const n = sources.length;
    for (let i = 0; i < sum.length; i++) sum[i] = (sum[i] as number) / n;
    onBand(top, rows, sum);
  }
  return { peakRows, bandRows: band };
}

/** The rows [lo, hi] of a map of `inSize` rows that output rows [o0, o1) of `outSize` read. */
function sourceRows(inSize: number, outSize: number, o0: number, o1: number): [number, number] {
  if (inSize === outSize) return [o0, o1 - 1];
  const { lo, hi } = interpolationBlock(inSize, outSize, o0, o1);
  return [lo, hi];
}

/**
 * One scale's map at output rows and columns: resized bilinearly to the image's size (a
 * map of logits is scored after resizing and averaged over its flip variants, as whole-image
 * inference does), [rows x cols x K] row-major.
 */
async function bandOfSource(
  source: ScaleSource,
  out: [number, number],
  rows: [number, number],
  cols: [number, number],
  k: number,
  head: Head,
): Promise<Float32Array> {
  const variants = source.row(sourceRows(source.height, out[0], rows[0], rows[0] + 1)[0]).length;
  const scores = tf.tidy(() => {
    const resized = Array.from({ length: variants }, (_, v) =>
      resizeBlock((r) => source.row(r)[v] as Float32Array, [source.height, source.width, k], out, rows, cols),
    );
    if (source.kind === 'scores') return resized[0] as tf.Tensor3D;
    const logits = tf.stack(resized) as T4;
    return tf.div(tf.sum(head.scores(logits), 0), variants) as tf.Tensor3D;
  });
  try {
    return (await scores.data()) as Float32Array;
  } finally {
    scores.dispose();
  }
}
