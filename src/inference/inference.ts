/**
 * Whole-image inference: each image at its own size, padded at the bottom and right to a
 * multiple of the output stride (pad value 0 = the mean pixel after normalisation, so the
 * feature grid aligns with the pixels), logits cropped back and upsampled to the image
 * size. Optional multi-scale (the image is resized bilinearly by each scale) and
 * horizontal flip: the head's `scores` of every variant, taken after upsampling the logits
 * to the image size, are averaged before the argmax. Those scores are softmax probabilities
 * for the softmax head, the boosted outputs alpha * boost(z) + beta for egb, the logits for
 * linear (see heads/head.ts).
 */
import { tf } from '../engine/tf.js';
import { resizeBilinear } from '../engine/resize.js';
import { SegError } from '../core/errors.js';
import type { Head } from '../heads/head.js';
import type { SegmentationModel } from '../segmentation/model.js';
import type { InferenceEngine } from './engine.js';

type T4 = tf.Tensor4D;

export interface PredictOptions {
  /** Image scales to average over; default [1]. */
  scales?: readonly number[];
  /** Also average the horizontally flipped image; default false. */
  flip?: boolean;
}

/** Round a side up to a multiple of the output stride. */
export function paddedSize(size: number, outputStride: number): number {
  return Math.ceil(size / outputStride) * outputStride;
}

/** Logits [N, h, w, K] of images [N, h, w, 3], padded to the output stride and cropped back. */
export function forwardPadded(model: SegmentationModel, images: T4): T4 {
  return tf.tidy(() => {
    const [n, h, w] = images.shape;
    const os = model.config.outputStride;
    const ph = paddedSize(h, os);
    const pw = paddedSize(w, os);
    const padded = ph === h && pw === w ? images : tf.pad(images, [[0, 0], [0, ph - h], [0, pw - w], [0, 0]]);
    const logits = model.forward(padded, { training: false });
    return ph === h && pw === w ? logits : (logits.slice([0, 0, 0, 0], [n, h, w, logits.shape[3]]) as T4);
  });
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
  return tf.tidy(() => {
    const x = imageTensor(image, height, width).expandDims(0) as T4;
    let sum: tf.Tensor3D | undefined;
    let count = 0;
    for (const scale of scales) {
      const sh = Math.max(1, Math.round(height * scale));
      const sw = Math.max(1, Math.round(width * scale));
      const scaled = resizeBilinear(x, [sh, sw]);
      // Original and mirror image in one batch; BN in inference mode treats samples apart.
      const batch = flip ? (tf.concat([scaled, tf.reverse(scaled, 2)], 0) as T4) : scaled;
      let logits = forwardPadded(model, batch);
      if (flip) {
        const [plain, mirrored] = tf.split(logits, 2, 0) as [T4, T4];
        logits = tf.concat([plain, tf.reverse(mirrored, 2)], 0) as T4;
      }
      const scores = head.scores(resizeBilinear(logits, [height, width]));
      const total = tf.sum(scores, 0) as tf.Tensor3D;
      sum = sum === undefined ? total : (tf.add(sum, total) as tf.Tensor3D);
      count += logits.shape[0];
    }
    return tf.div(sum as tf.Tensor3D, count) as tf.Tensor3D;
  });
}

/** Whether `model` is an inference engine (onnxruntime or tfjs) rather than a tfjs model. */
function isEngine(model: SegmentationModel | InferenceEngine): model is InferenceEngine {
  return !('forward' in model);
}

/** Classes predicted by a model or an engine. */
export function predictorClasses(model: SegmentationModel | InferenceEngine): number {
  return isEngine(model) ? model.numClasses : model.config.numClasses;
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
  let count = 0;
  try {
    for (const scale of scales) {
      const sh = Math.max(1, Math.round(height * scale));
      const sw = Math.max(1, Math.round(width * scale));
      const batch = tf.tidy(() => {
        const scaled = resizeBilinear(x, [sh, sw]);
        return flip ? (tf.concat([scaled, tf.reverse(scaled, 2)], 0) as T4) : tf.clone(scaled);
      });
      let logits: T4;
      try {
        logits = await engine.logits(batch);
      } finally {
        batch.dispose();
      }
      const total = tf.tidy(() => {
        let l = logits;
        if (flip) {
          const [plain, mirrored] = tf.split(l, 2, 0) as [T4, T4];
          l = tf.concat([plain, tf.reverse(mirrored, 2)], 0) as T4;
        }
        return tf.sum(head.scores(resizeBilinear(l, [height, width])), 0) as tf.Tensor3D;
      });
      count += logits.shape[0];
      logits.dispose();
      const previous = sum;
      sum = previous === undefined ? total : tf.tidy(() => tf.add(previous, total) as tf.Tensor3D);
      if (previous !== undefined) {
        previous.dispose();
        total.dispose();
      }
    }
  } catch (err) {
    sum?.dispose();
    throw err;
  } finally {
    x.dispose();
  }
  const result = tf.tidy(() => tf.div(sum as tf.Tensor3D, count) as tf.Tensor3D);
  sum?.dispose();
  return result;
}

/** Class index per pixel (row-major HxW) for one normalised image, by a model or an engine. */
export async function predictMask(
  model: SegmentationModel | InferenceEngine,
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
  const engineScores = isEngine(model) ? await predictScoresWithEngine(model, head, image, height, width, options) : undefined;
  const classes = tf.tidy(() => {
    const scores = engineScores ?? predictScores(model as SegmentationModel, head, image, height, width, options);
    return tf.argMax(scores, 2);
  });
  engineScores?.dispose();
  try {
    return Uint8Array.from(await classes.data());
  } finally {
    classes.dispose();
  }
}
