/**
 * Pixel normalisation. Checkpoints record these constants so inference normalises as
 * training did: `(value / 255 - mean[c]) / std[c]` per RGB channel.
 */
import { arrayOf, number, object, type Schema } from '../core/schema.js';

export interface Normalization {
  /** Per-channel mean on the 0..1 scale (RGB). */
  mean: [number, number, number];
  /** Per-channel standard deviation on the 0..1 scale (RGB). */
  std: [number, number, number];
}

/** The one check of a normalisation read from a file (config.json, ONNX metadata): finite means, std > 0. */
export const NORMALIZATION_SCHEMA: Schema<Normalization> = object<Normalization>({
  mean: arrayOf(number(), { length: 3 }) as Schema<Normalization['mean']>,
  std: arrayOf(number({ above: 0 }), { length: 3 }) as Schema<Normalization['std']>,
});

/** ImageNet statistics, which pretrained backbones expect. */
export const IMAGENET_MEAN: readonly [number, number, number] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: readonly [number, number, number] = [0.229, 0.224, 0.225];

export const IMAGENET_NORMALIZATION: Readonly<Normalization> = {
  mean: [...IMAGENET_MEAN],
  std: [...IMAGENET_STD],
};

/** The mean colour as bytes: padding with it normalises to (nearly) zero. */
export function meanPixel(norm: Normalization = IMAGENET_NORMALIZATION): [number, number, number] {
  return [Math.round(norm.mean[0] * 255), Math.round(norm.mean[1] * 255), Math.round(norm.mean[2] * 255)];
}

/** Normalise HxWx3 RGB bytes into `out` (HxWx3 float32) at `offset`; returns `out`. */
export function normalizeInto(
  image: Uint8Array,
  out: Float32Array,
  offset = 0,
  norm: Normalization = IMAGENET_NORMALIZATION,
): Float32Array {
  // v * scale + bias per channel, with scale = 1 / (255 std) and bias = -mean / std.
  const s0 = 1 / (255 * norm.std[0]);
  const s1 = 1 / (255 * norm.std[1]);
  const s2 = 1 / (255 * norm.std[2]);
  const b0 = -norm.mean[0] / norm.std[0];
  const b1 = -norm.mean[1] / norm.std[1];
  const b2 = -norm.mean[2] / norm.std[2];
  const n = image.length;
  for (let i = 0; i < n; i += 3) {
    const o = offset + i;
    out[o] = (image[i] as number) * s0 + b0;
    out[o + 1] = (image[i + 1] as number) * s1 + b1;
    out[o + 2] = (image[i + 2] as number) * s2 + b2;
  }
  return out;
}

/** Normalise HxWx3 RGB bytes to a new float32 array. */
export function normalizeImage(image: Uint8Array, norm: Normalization = IMAGENET_NORMALIZATION): Float32Array {
  return normalizeInto(image, new Float32Array(image.length), 0, norm);
}
