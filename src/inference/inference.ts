/**
 * Whole-image inference: the network runs on each image at its own size, as torchvision's
 * and mmsegmentation's whole-image inference do (its logits, upsampled bilinearly to the
 * image size inside the network, equal torchvision's for the same weights at any size).
 * `padToStride` pads the image at the bottom and right with zeros (the mean pixel after
 * normalisation) to a multiple of the output stride first and crops the logits back, as
 * seg did before: the feature grid then aligns with the pixels, but the logits differ from
 * torchvision's wherever a side is not a multiple of the stride. Optional multi-scale (the
 * image is resized bilinearly by each scale) and horizontal flip: the head's `scores` of
 * every variant, taken after upsampling the logits to the image size, are averaged before
 * the argmax. Those scores are softmax probabilities
 * for the softmax head, the boosted outputs alpha * boost(z) + beta for egb, the logits for
 * linear (see heads/head.ts). Large images run as sliding windows (sliding-window.ts) over
 * each scaled image, composed with the same multi-scale and flip averaging; `auto` picks
 * windows when the whole image would not fit the backend's memory. Everything here runs on
 * an inference engine (engines/: tfjs, onnxruntime), one asynchronous pipeline for all.
 */
import { tf } from '../engine/tf.js';
import { resizeBilinear } from '../engine/resize.js';
import { SegError } from '../core/errors.js';
import type { Head } from '../heads/head.js';
import { cropLogits, padImages, paddedSize } from '../segmentation/model-logits.js';
import type { InferenceEngine } from './engines/engine.js';
import { DEFAULT_OVERLAP, DEFAULT_WINDOW, argmaxScores, validateWindow, type InferenceMode } from './sliding-window.js';
import { scaledSize, streamSlideScores, type StreamOptions, type WindowRunner } from './slide-stream.js';

type T4 = tf.Tensor4D;

export interface PredictOptions {
  /** Image scales to average over; default [1]. */
  scales?: readonly number[];
  /** Also average the horizontally flipped image; default false. */
  flip?: boolean;
  /** whole image, sliding windows, or auto (windows when the whole would exceed `memoryLimit`); default whole. */
  mode?: InferenceMode;
  /** Sliding-window side in pixels (default 513; `auto` makes it smaller until a window fits `memoryLimit`). */
  window?: number;
  /** Overlap of neighbouring windows, a fraction of the window (default 1/3). */
  overlap?: number;
  /** Bytes the engine can hold, for `auto` (undefined: no limit, so whole). */
  memoryLimit?: number;
  /** Pad each image (or window) to a multiple of the output stride and crop the logits back; default false. */
  padToStride?: boolean;
  /** Sliding windows: called after each window (and each whole-image run of a scale) with (done, total). */
  onWindow?: (done: number, total: number) => void;
}

/**
 * Whole-image logits of an engine, with `padToStride` padded to its output stride and
 * cropped back; an engine whose graph pads itself (an ONNX file exported with
 * --pad-to-stride) is given the images as they are. The caller owns the result.
 */
export async function engineLogits(engine: InferenceEngine, images: T4, padToStride = false): Promise<T4> {
  if (!padToStride || engine.padsToStride) return engine.logits(images);
  const [, h, w] = images.shape;
  const padded = padImages(images, engine.outputStride);
  let logits: T4;
  try {
    logits = await engine.logits(padded);
  } finally {
    if (padded !== images) padded.dispose();
  }
  if (logits.shape[1] === h && logits.shape[2] === w) return logits;
  try {
    return tf.tidy(() => cropLogits(logits, h, w));
  } finally {
    logits.dispose();
  }
}

function validateScales(scales: readonly number[]): void {
  if (scales.length === 0) throw new SegError('--scales: expected at least one scale', '--scales');
  for (const s of scales) {
    if (!Number.isFinite(s) || s <= 0 || s > 8) throw new SegError(`--scales: got ${s}, expected numbers in (0, 8]`, '--scales');
  }
}

function imageTensor(image: Float32Array | tf.Tensor3D, height: number, width: number): tf.Tensor3D {
  if (image instanceof Float32Array) {
    if (image.length !== height * width * 3) {
      throw new SegError(`predict: image has ${image.length} values, expected ${height}x${width}x3 = ${height * width * 3}`);
    }
    return tf.tensor3d(image, [height, width, 3]);
  }
  if (image.rank !== 3 || image.shape[0] !== height || image.shape[1] !== width || image.shape[2] !== 3) {
    throw new SegError(`predict: image tensor is [${image.shape.join(', ')}], expected [${height}, ${width}, 3]`);
  }
  return image;
}

/** Mirror the second half of a plain+mirrored batch of logits back. */
function unflip(logits: T4): T4 {
  const [plain, mirrored] = tf.split(logits, 2, 0) as [T4, T4];
  return tf.concat([plain, tf.reverse(mirrored, 2)], 0) as T4;
}

/** Logits of images [n, h, w, 3] and, when flip, of their mirrors (mirrored back): [2n, ...]. The caller owns the result. */
async function variantLogits(engine: InferenceEngine, images: T4, flip: boolean, padToStride: boolean): Promise<T4> {
  // Original and mirror image in one batch; BN in inference mode treats samples apart.
  const batch = flip ? (tf.tidy(() => tf.concat([images, tf.reverse(images, 2)], 0)) as T4) : images;
  let logits: T4;
  try {
    logits = await engineLogits(engine, batch, padToStride);
  } finally {
    if (batch !== images) batch.dispose();
  }
  if (!flip) return logits;
  try {
    return tf.tidy(() => unflip(logits));
  } finally {
    logits.dispose();
  }
}

/**
 * Head scores [h, w, K] of one image [1, h', w', 3] (and its mirror when flip), upsampled to
 * `size` and summed over the variants, with how many were summed. The caller owns `sum`.
 */
async function scoreSum(
  engine: InferenceEngine,
  head: Head,
  images: T4,
  flip: boolean,
  size: [number, number],
  padToStride: boolean,
): Promise<{ sum: tf.Tensor3D; count: number }> {
  const logits = await variantLogits(engine, images, flip, padToStride);
  try {
    return { sum: tf.tidy(() => tf.sum(head.scores(resizeBilinear(logits, size)), 0) as tf.Tensor3D), count: logits.shape[0] };
  } finally {
    logits.dispose();
  }
}

/**
 * Averaged scores [H, W, K] for one normalised image (HxWx3, as a Float32Array or a
 * tensor): the head's scores of every scale (and flip), upsampled to the image size, summed
 * and divided once by their number. The caller owns the result.
 */
export async function predictScores(
  engine: InferenceEngine,
  head: Head,
  image: Float32Array | tf.Tensor3D,
  height: number,
  width: number,
  options: PredictOptions = {},
): Promise<tf.Tensor3D> {
  const scales = options.scales ?? [1];
  validateScales(scales);
  const flip = options.flip ?? false;
  const pad = options.padToStride ?? false;
  const x = tf.tidy(() => imageTensor(image, height, width).expandDims(0) as T4);
  let sum: tf.Tensor3D | undefined;
  let count = 0;
  try {
    for (const scale of scales) {
      const scaled = tf.tidy(() => resizeBilinear(x, scaledSize(height, width, scale)));
      let part: { sum: tf.Tensor3D; count: number };
      try {
        part = await scoreSum(engine, head, scaled, flip, [height, width], pad);
      } finally {
        if (scaled !== x) scaled.dispose();
      }
      const previous = sum;
      sum = previous === undefined ? part.sum : tf.tidy(() => tf.add(previous, part.sum) as tf.Tensor3D);
      count += part.count;
      if (previous !== undefined) {
        previous.dispose();
        part.sum.dispose();
      }
    }
    const total = sum as tf.Tensor3D;
    return tf.tidy(() => tf.div(total, count) as tf.Tensor3D);
  } finally {
    sum?.dispose();
    x.dispose();
  }
}

/** Estimated peak bytes of whole-image inference on height x width (engine tensors and score maps). */
function wholeImageBytes(
  engine: InferenceEngine,
  height: number,
  width: number,
  batch: number,
  mapHeight: number,
  mapWidth: number,
  padToStride: boolean,
): number {
  const os = padToStride ? engine.outputStride : 1;
  const network = engine.estimateMemory(paddedSize(height, os), paddedSize(width, os), batch);
  // Plus the score maps (scores, their sum and the average).
  return network + 3 * batch * mapHeight * mapWidth * engine.numClasses * 4;
}

/**
 * Which mode runs for an image of height x width: `whole` and `slide` as asked; `auto` slides
 * when the estimated peak memory of the whole image at its largest scale (and flip) exceeds
 * `memoryLimit`.
 */
export function chooseInferenceMode(
  engine: InferenceEngine,
  height: number,
  width: number,
  options: PredictOptions = {},
): 'whole' | 'slide' {
  const mode = options.mode ?? 'whole';
  if (mode !== 'auto') return mode;
  if (options.memoryLimit === undefined) return 'whole';
  const scale = Math.max(...(options.scales ?? [1]));
  const [sh, sw] = scaledSize(height, width, scale);
  const batch = options.flip === true ? 2 : 1;
  return wholeImageBytes(engine, sh, sw, batch, height, width, options.padToStride ?? false) > options.memoryLimit ? 'slide' : 'whole';
}

/**
 * The window `auto` slides with: the requested one (default 513), made smaller in steps of
 * 32 px (down to 65) until one window fits `memoryLimit`; as requested in the other modes.
 */
export function chooseWindow(engine: InferenceEngine, options: PredictOptions = {}): number {
  const requested = options.window ?? DEFAULT_WINDOW;
  if (options.mode !== 'auto' || options.memoryLimit === undefined) return requested;
  const batch = options.flip === true ? 2 : 1;
  for (let window = requested; window > 65; window -= 32) {
    if (wholeImageBytes(engine, window, window, batch, window, window, options.padToStride ?? false) <= options.memoryLimit) return window;
  }
  return Math.min(requested, 65);
}

/** The streaming's view of an engine (slide-stream.ts); `pad`: padToStride. */
function windowRunner(engine: InferenceEngine, head: Head, pad: boolean): WindowRunner {
  return {
    numClasses: engine.numClasses,
    async meanScores(images, flip) {
      const part = await scoreSum(engine, head, images, flip, [images.shape[1], images.shape[2]], pad);
      return readAndDispose(
        tf.tidy(() => tf.div(part.sum, part.count)),
        part.sum,
      );
    },
    async logits(images, flip) {
      const logits = await variantLogits(engine, images, flip, pad);
      const variants = tf.tidy(() => tf.split(logits, logits.shape[0], 0));
      logits.dispose();
      const out: Float32Array[] = [];
      for (const v of variants) out.push(await readAndDispose(v));
      return out;
    },
  };
}

async function imageData(image: Float32Array | tf.Tensor3D, height: number, width: number): Promise<Float32Array> {
  if (image instanceof Float32Array) return imageTensorless(image, height, width);
  const checked = imageTensor(image, height, width);
  return (await checked.data()) as Float32Array;
}

function imageTensorless(image: Float32Array, height: number, width: number): Float32Array {
  if (image.length !== height * width * 3) {
    throw new SegError(`predict: image has ${image.length} values, expected ${height}x${width}x3 = ${height * width * 3}`);
  }
  return image;
}

function streamOptions(options: PredictOptions): StreamOptions {
  const scales = options.scales ?? [1];
  validateScales(scales);
  const window = options.window ?? DEFAULT_WINDOW;
  const overlap = options.overlap ?? DEFAULT_OVERLAP;
  validateWindow(window, overlap);
  return {
    scales,
    flip: options.flip ?? false,
    window,
    overlap,
    ...(options.onWindow !== undefined ? { onWindow: options.onWindow } : {}),
  };
}

/**
 * Averaged scores [H * W * K] (row-major HxWxK) by sliding windows over each scaled image;
 * a scale whose image fits in one window runs exactly as whole-image inference. This holds
 * the whole score map; predictMask streams instead (slide-stream.ts).
 */
export async function slideScores(
  engine: InferenceEngine,
  head: Head,
  image: Float32Array | tf.Tensor3D,
  height: number,
  width: number,
  options: PredictOptions = {},
): Promise<Float32Array> {
  const k = engine.numClasses;
  const total = new Float32Array(height * width * k);
  await streamSlide(engine, head, image, height, width, options, (top, scores) => total.set(scores, top * width * k));
  return total;
}

/** streamSlideScores over an engine, for an image given as data or as a tensor. */
async function streamSlide(
  engine: InferenceEngine,
  head: Head,
  image: Float32Array | tf.Tensor3D,
  height: number,
  width: number,
  options: PredictOptions,
  onBand: (top: number, scores: Float32Array) => void,
): Promise<void> {
  const data = await imageData(image, height, width);
  const runner = windowRunner(engine, head, options.padToStride ?? false);
  await streamSlideScores(runner, head, data, height, width, streamOptions(options), (top, _rows, scores) => onBand(top, scores));
}

/** The data of `t`, disposing it (and `also`, when given) after the read. */
async function readAndDispose(t: tf.Tensor, also?: tf.Tensor): Promise<Float32Array> {
  try {
    return (await t.data()) as Float32Array;
  } finally {
    t.dispose();
    also?.dispose();
  }
}

/** Class index per pixel (row-major HxW) for one normalised image. */
export async function predictMask(
  engine: InferenceEngine,
  head: Head,
  image: Float32Array | tf.Tensor3D,
  height: number,
  width: number,
  options: PredictOptions = {},
): Promise<Uint8Array> {
  const numClasses = engine.numClasses;
  if (numClasses > 256) {
    throw new SegError(`predict: ${numClasses} classes do not fit in 8-bit masks (at most 256)`);
  }
  if (chooseInferenceMode(engine, height, width, options) === 'slide') {
    // Streamed: only a band of scores is held at a time, never the H x W x K map.
    const mask = new Uint8Array(height * width);
    const windowed = { ...options, window: chooseWindow(engine, options) };
    await streamSlide(engine, head, image, height, width, windowed, (top, scores) =>
      mask.set(argmaxScores(scores, numClasses), top * width),
    );
    return mask;
  }
  const scores = await predictScores(engine, head, image, height, width, options);
  const classes = tf.tidy(() => tf.argMax(scores, 2));
  scores.dispose();
  try {
    return Uint8Array.from(await classes.data());
  } finally {
    classes.dispose();
  }
}
