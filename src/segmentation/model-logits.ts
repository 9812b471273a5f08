/**
 * The model's logits of whole images: the network on the images as they are (torchvision's
 * whole-image inference), or padded at the bottom and right with zeros (the mean pixel after
 * normalisation) to a multiple of the output stride and cropped back (`padToStride`).
 */
import { tf } from '../engine/tf.js';
import type { SegmentationModel } from './model.js';

type T4 = tf.Tensor4D;

/** Round a side up to a multiple of the output stride. */
export function paddedSize(size: number, outputStride: number): number {
  return Math.ceil(size / outputStride) * outputStride;
}

/** Images [N, h, w, 3] padded with zeros at the bottom and right to a multiple of `outputStride` (the same tensor if already). */
export function padImages(images: T4, outputStride: number): T4 {
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

/** Logits cropped to the top-left h x w (the same tensor if already). */
export function cropLogits(logits: T4, h: number, w: number): T4 {
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
