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
 * seg's tfjs model or on an inference engine (engine.ts: onnxruntime), with the same averaging.
 */
import { tf } from '../engine/tf.js';
import { resizeBilinear } from '../engine/resize.js';
import { SegError } from '../core/errors.js';
import type { Head } from '../heads/head.js';
import type { SegmentationModel } from '../segmentation/model.js';
import type { InferenceEngine } from './engine.js';
import { estimateInferenceMemory } from '../segmentation/memory-estimate.js';
import { DEFAULT_OVERLAP, DEFAULT_WINDOW, argmaxScores, validateWindow, type InferenceMode } from './sliding-window.js';
import { scaledSize, streamSlideScores, type StreamOptions, type WindowRunner } from './slide-stream.js';

type T4 = tf.Tensor4D;

/** What inference runs: seg's tfjs model, or an inference engine (onnxruntime, tfjs). */
export type ModelOrEngine = SegmentationModel | InferenceEngine;

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
  /** Bytes the backend can hold, for `auto` (undefined: no limit, so whole). */
  memoryLimit?: number;
  /** Pad each image (or window) to a multiple of the output stride and crop the logits back; default false. */
  padToStride?: boolean;
  /** Sliding windows: called after each window (and each whole-image run of a scale) with (done, total). */
  onWindow?: (done: number, total: number) => void;
}

/** Round a side up to a multiple of the output stride. */
export function paddedSize(size: number, outputStride: number): number {
  return Math.ceil(size / outputStride) * outputStride;
}

/** Images [N, h, w, 3] padded with zeros at the bottom and right to a multiple of `outputStride`. */
function padImages(images: T4, outputStride: number): T4 {
  const [, h, w] = images.shape;
  const ph = paddedSize(h, outputStride);
  const pw = paddedSize(w, outputStride);
  if (ph === h && pw === w) return images;
  return tf.pad(images, [
    [0, 0],
    [0, ph - h],
    [0, pw - w],
    [0, 0],
  ]);
}

/** Logits cropped to the top-left h x w. */
function cropLogits(logits: T4, h: number, w: number): T4 {
  const [n, lh, lw, k] = logits.shape;
  return lh === h && lw === w ? logits : (logits.slice([0, 0, 0, 0], [n, h, w, k]) as T4);
}

/**
 * Whole-image logits [N, h, w, K] of images [N, h, w, 3] on seg's tfjs model: the network on
 * the images as they are, or with `padToStride` padded to the output stride and cropped back.
 */
export function wholeImageLogits(model: SegmentationModel, images: T4, padToStride = false): T4 {
  if (!padToStride) return model.forward(images, { training: false });
  return tf.tidy(() => {
    const [, h, w] = images.shape;
    return cropLogits(model.forward(padImages(images, model.config.outputStride), { training: false }), h, w);
  });
}

/**
 * wholeImageLogits on an inference engine (asynchronous); an engine whose graph pads
 * itself (an ONNX file exported with --pad-to-stride) is given the images as they are.
 */
export async function engineLogits(engine: InferenceEngine, images: T4, padToStride = false): Promise<T4> {
  if (!padToStride || engine.padsToStride) return engine.logits(images);
  const [, h, w] = images.shape;
  const padded = padImages(images, engine.config.outputStride);
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

/**
 * Averaged scores [H, W, K] for one normalised image (HxWx3, as a Float32Array or a
 * tensor). The caller owns the result.
 */
export function predictScores(
  model: SegmentationModel,
  head: Head,
  image: Float32Array | tf.Tensor3D,
  height: number,
  width: number,
  options: PredictOptions = {},
): tf.Tensor3D {
  const scales = options.scales ?? [1];
  validateScales(scales);
  const flip = options.flip ?? false;
  const pad = options.padToStride ?? false;
  return tf.tidy(() => {
    const x = imageTensor(image, height, width).expandDims(0) as T4;
    let sum: tf.Tensor3D | undefined;
    let count = 0;
    for (const scale of scales) {
      const part = scaleScoreSum(model, head, x, scale, flip, pad);
      sum = sum === undefined ? part.sum : (tf.add(sum, part.sum) as tf.Tensor3D);
      count += part.count;
    }
    return tf.div(sum as tf.Tensor3D, count) as tf.Tensor3D;
  });
}

/** Scores of `batch` (plain, and mirrored when flip) summed over the batch, at `size`. */
function batchScoreSum(
  model: SegmentationModel,
  head: Head,
  images: T4,
  flip: boolean,
  size: [number, number],
  padToStride: boolean,
): { sum: tf.Tensor3D; count: number } {
  return tf.tidy(() => {
    // Original and mirror image in one batch; BN in inference mode treats samples apart.
    const batch = flip ? (tf.concat([images, tf.reverse(images, 2)], 0) as T4) : images;
    let logits = wholeImageLogits(model, batch, padToStride);
    if (flip) {
      const [plain, mirrored] = tf.split(logits, 2, 0) as [T4, T4];
      logits = tf.concat([plain, tf.reverse(mirrored, 2)], 0) as T4;
    }
    const scores = head.scores(resizeBilinear(logits, size));
    return { sum: tf.sum(scores, 0) as tf.Tensor3D, count: logits.shape[0] };
  });
}

/** Whole-image scores of one scale, upsampled to the image size and summed over plain/flipped. */
function scaleScoreSum(
  model: SegmentationModel,
  head: Head,
  x: T4,
  scale: number,
  flip: boolean,
  padToStride: boolean,
): { sum: tf.Tensor3D; count: number } {
  const [, height, width] = x.shape;
  return tf.tidy(() => {
    const scaled = resizeBilinear(x, scaledSize(height, width, scale));
    const part = batchScoreSum(model, head, scaled, flip, [height, width], padToStride);
    return { sum: part.sum, count: part.count };
  });
}

/** Whether `model` is an inference engine (onnxruntime or tfjs) rather than a tfjs model. */
function isEngine(model: ModelOrEngine): model is InferenceEngine {
  return !('forward' in model);
}

/** Classes predicted by a model or an engine. */
export function predictorClasses(model: ModelOrEngine): number {
  return model.config.numClasses;
}

/** Mirror the second half of a plain+mirrored batch of logits back. */
function unflip(logits: T4): T4 {
  const [plain, mirrored] = tf.split(logits, 2, 0) as [T4, T4];
  return tf.concat([plain, tf.reverse(mirrored, 2)], 0) as T4;
}

/**
 * Mean head scores [h, w, K] of one image [1, h', w', 3] (and its mirror when flip),
 * upsampled to `size`, on a model or an engine. The caller owns the result.
 */
async function meanScores(
  model: ModelOrEngine,
  head: Head,
  images: T4,
  flip: boolean,
  size: [number, number],
  padToStride: boolean,
): Promise<tf.Tensor3D> {
  if (!isEngine(model)) {
    return tf.tidy(() => {
      const part = batchScoreSum(model, head, images, flip, size, padToStride);
      return tf.div(part.sum, part.count) as tf.Tensor3D;
    });
  }
  const batch = flip ? (tf.tidy(() => tf.concat([images, tf.reverse(images, 2)], 0)) as T4) : images;
  let logits: T4;
  try {
    logits = await engineLogits(model, batch, padToStride);
  } finally {
    if (batch !== images) batch.dispose();
  }
  try {
    return tf.tidy(() => {
      const l = flip ? unflip(logits) : logits;
      return tf.div(tf.sum(head.scores(resizeBilinear(l, size)), 0), l.shape[0]) as tf.Tensor3D;
    });
  } finally {
    logits.dispose();
  }
}

/**
 * predictScores through an inference engine (asynchronous: onnxruntime runs outside tfjs),
 * with the same scales, flip and averaging of head scores. The caller owns the result.
 */
export async function predictScoresWithEngine(
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
  const x = tf.tidy(() => imageTensor(image, height, width).expandDims(0) as T4);
  let sum: tf.Tensor3D | undefined;
  try {
    for (const scale of scales) {
      const scaled = tf.tidy(() => resizeBilinear(x, scaledSize(height, width, scale)));
      let part: tf.Tensor3D;
      try {
        part = await meanScores(engine, head, scaled, flip, [height, width], options.padToStride ?? false);
      } finally {
        if (scaled !== x) scaled.dispose();
      }
      const previous = sum;
      sum = previous === undefined ? part : tf.tidy(() => tf.add(previous, part) as tf.Tensor3D);
      if (previous !== undefined) {
        previous.dispose();
        part.dispose();
      }
    }
  } catch (err) {
    sum?.dispose();
    throw err;
  } finally {
    x.dispose();
  }
  const result = tf.tidy(() => tf.div(sum as tf.Tensor3D, scales.length) as tf.Tensor3D);
  sum?.dispose();
  return result;
}

/** Estimated peak bytes of whole-image inference on height x width (engine tensors and score maps). */
function wholeImageBytes(
  model: ModelOrEngine,
  height: number,
  width: number,
  batch: number,
  mapHeight: number,
  mapWidth: number,
  padToStride: boolean,
): number {
  const os = padToStride ? model.config.outputStride : 1;
  const engine = estimateInferenceMemory(model.config, paddedSize(height, os), paddedSize(width, os), batch).bytes;
  // Plus the score maps (scores, their sum and the average).
  return engine + 3 * batch * mapHeight * mapWidth * model.config.numClasses * 4;
}

/**
 * Which mode runs for an image of height x width: `whole` and `slide` as asked; `auto` slides
 * when the estimated peak memory of the whole image at its largest scale (and flip) exceeds
 * `memoryLimit`.
 */
export function chooseInferenceMode(model: ModelOrEngine, height: number, width: number, options: PredictOptions = {}): 'whole' | 'slide' {
  const mode = options.mode ?? 'whole';
  if (mode !== 'auto') return mode;
  if (options.memoryLimit === undefined) return 'whole';
  const scale = Math.max(...(options.scales ?? [1]));
  const [sh, sw] = scaledSize(height, width, scale);
  const batch = options.flip === true ? 2 : 1;
  return wholeImageBytes(model, sh, sw, batch, height, width, options.padToStride ?? false) > options.memoryLimit ? 'slide' : 'whole';
}

/**
 * The window `auto` slides with: the requested one (default 513), made smaller in steps of
 * 32 px (down to 65) until one window fits `memoryLimit`; as requested in the other modes.
 */
export function chooseWindow(model: ModelOrEngine, options: PredictOptions = {}): number {
  const requested = options.window ?? DEFAULT_WINDOW;
  if (options.mode !== 'auto' || options.memoryLimit === undefined) return requested;
  const batch = options.flip === true ? 2 : 1;
  for (let window = requested; window > 65; window -= 32) {
    if (wholeImageBytes(model, window, window, batch, window, window, options.padToStride ?? false) <= options.memoryLimit) return window;
  }
  return Math.min(requested, 65);
}

/** The streaming's view of a model or an engine (slide-stream.ts); `pad`: padToStride. */
function windowRunner(model: ModelOrEngine, head: Head, pad: boolean): WindowRunner {
  return {
    numClasses: model.config.numClasses,
    meanScores: async (images, flip) =>
      readAndDispose(await meanScores(model, head, images, flip, [images.shape[1], images.shape[2]], pad)),
    async logits(images, flip) {
      const batch = flip ? (tf.tidy(() => tf.concat([images, tf.reverse(images, 2)], 0)) as T4) : images;
      let logits: T4;
      try {
        logits = isEngine(model) ? await engineLogits(model, batch, pad) : wholeImageLogits(model, batch, pad);
      } finally {
        if (batch !== images) batch.dispose();
      }
      const variants = tf.tidy(() => tf.split(flip ? unflip(logits) : logits, logits.shape[0], 0));
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
  model: ModelOrEngine,
  head: Head,
  image: Float32Array | tf.Tensor3D,
  height: number,
  width: number,
  options: PredictOptions = {},
): Promise<Float32Array> {
  const k = model.config.numClasses;
  const total = new Float32Array(height * width * k);
  await streamSlide(model, head, image, height, width, options, (top, scores) => total.set(scores, top * width * k));
  return total;
}

/** streamSlideScores over a model or an engine, for an image given as data or as a tensor. */
async function streamSlide(
  model: ModelOrEngine,
  head: Head,
  image: Float32Array | tf.Tensor3D,
  height: number,
  width: number,
  options: PredictOptions,
  onBand: (top: number, scores: Float32Array) => void,
): Promise<void> {
  const data = await imageData(image, height, width);
  const runner = windowRunner(model, head, options.padToStride ?? false);
  await streamSlideScores(runner, head, data, height, width, streamOptions(options), (top, _rows, scores) => onBand(top, scores));
}

async function readAndDispose(t: tf.Tensor): Promise<Float32Array> {
  try {
    return (await t.data()) as Float32Array;
  } finally {
    t.dispose();
  }
}

/** Class index per pixel (row-major HxW) for one normalised image, by a model or an engine. */
export async function predictMask(
  model: ModelOrEngine,
  head: Head,
  image: Float32Array | tf.Tensor3D,
  height: number,
  width: number,
  options: PredictOptions = {},
): Promise<Uint8Array> {
  const numClasses = predictorClasses(model);
  if (numClasses > 256) {
    throw new SegError(`predict: ${numClasses} classes do not fit in 8-bit masks (at most 256)`);
  }
  if (chooseInferenceMode(model, height, width, options) === 'slide') {
    // Streamed: only a band of scores is held at a time, never the H x W x K map.
    const mask = new Uint8Array(height * width);
    const windowed = { ...options, window: chooseWindow(model, options) };
    await streamSlide(model, head, image, height, width, windowed, (top, scores) =>
      mask.set(argmaxScores(scores, numClasses), top * width),
    );
    return mask;
  }
  const engineScores = isEngine(model) ? await predictScoresWithEngine(model, head, image, height, width, options) : undefined;
  const classes = tf.tidy(() =>
    tf.argMax(engineScores ?? predictScores(model as SegmentationModel, head, image, height, width, options), 2),
  );
  engineScores?.dispose();
  try {
    return Uint8Array.from(await classes.data());
  } finally {
    classes.dispose();
  }
}
