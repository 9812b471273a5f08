/**
 * Pixel normalisation. Checkpoints record these constants so inference normalises as
 * training did: `(value / 255 - mean[c]) / std[c]` per RGB channel.
 */

export interface Normalization {
  /** Per-channel mean on the 0..1 scale (RGB). */
  mean: [number, number, number];
  /** Per-channel standard deviation on the 0..1 scale (RGB). */
  std: [number, number, number];
}

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

function lookupTable(norm: Normalization): Float32Array {
  const lut = new Float32Array(3 * 256);
  for (let c = 0; c < 3; c++) {
    for (let v = 0; v < 256; v++) lut[c * 256 + v] = (v / 255 - (norm.mean[c] as number)) / (norm.std[c] as number);
  }
  return lut;
}

/** Normalise HxWx3 RGB bytes into `out` (HxWx3 float32) at `offset`; returns `out`. */
export function normalizeInto(
  image: Uint8Array,
  out: Float32Array,
  offset = 0,
  norm: Normalization = IMAGENET_NORMALIZATION,
): Float32Array {
  const lut = lookupTable(norm);
  for (let i = 0; i < image.length; i += 3) {
    out[offset + i] = lut[image[i] as number] as number;
    out[offset + i + 1] = lut[256 + (image[i + 1] as number)] as number;
    out[offset + i + 2] = lut[512 + (image[i + 2] as number)] as number;
  }
  return out;
}

/** Normalise HxWx3 RGB bytes to a new float32 array. */
export function normalizeImage(image: Uint8Array, norm: Normalization = IMAGENET_NORMALIZATION): Float32Array {
  return normalizeInto(image, new Float32Array(image.length), 0, norm);
}

/** Back to bytes (for overlays of what the model saw), clamped to 0..255. */
export function denormalizeImage(image: Float32Array, norm: Normalization = IMAGENET_NORMALIZATION): Uint8Array {
  const out = new Uint8Array(image.length);
  for (let i = 0; i < image.length; i++) {
    const c = i % 3;
    out[i] = Math.max(0, Math.min(255, Math.round(((image[i] as number) * (norm.std[c] as number) + (norm.mean[c] as number)) * 255)));
  }
  return out;
}
