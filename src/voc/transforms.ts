/**
 * Joint image/label transforms, torchvision style: small functions `(pair, rng) -> pair`
 * composed in a list. Images are resized bilinearly, labels only by nearest neighbour, so no
 * transform ever creates a label value except 255 in padding. Inputs are never mutated.
 * Every transform draws the same number of random values whatever the input, so a sample's
 * augmentation depends only on its own generator.
 */
import type { Rng } from '../random.js';
import { resizeRgb } from './image-io.js';
import { VOID_LABEL } from './types.js';

/** An image (HxWx3 RGB bytes) and its label (HxW indices) of the same size. */
export interface ImageLabelPair {
  width: number;
  height: number;
  image: Uint8Array;
  label: Uint8Array;
}

export type Transform = (pair: ImageLabelPair, rng: Rng) => ImageLabelPair | Promise<ImageLabelPair>;

/** DeepLab's training scales: 0.5 to 2.0 in steps of 0.25. */
export const TRAIN_SCALES: readonly number[] = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0];

/** Apply transforms in order. */
export async function applyTransforms(transforms: readonly Transform[], pair: ImageLabelPair, rng: Rng): Promise<ImageLabelPair> {
  let out = pair;
  for (const t of transforms) out = await t(out, rng);
  return out;
}

/** Nearest-neighbour resize of an HxW label (pixel centres aligned: src = floor((x + 0.5) * w / nw)). */
export function resizeLabelNearest(label: Uint8Array, width: number, height: number, newWidth: number, newHeight: number): Uint8Array {
  const out = new Uint8Array(newWidth * newHeight);
  const xs = new Int32Array(newWidth);
  for (let x = 0; x < newWidth; x++) xs[x] = Math.min(width - 1, Math.floor(((x + 0.5) * width) / newWidth));
  for (let y = 0; y < newHeight; y++) {
    const sy = Math.min(height - 1, Math.floor(((y + 0.5) * height) / newHeight));
    const src = sy * width;
    const dst = y * newWidth;
    for (let x = 0; x < newWidth; x++) out[dst + x] = label[src + (xs[x] as number)] as number;
  }
  return out;
}

/** Scale a pair by `scale` (image bilinear, label nearest); sizes round to the nearest pixel. */
export async function scalePair(pair: ImageLabelPair, scale: number): Promise<ImageLabelPair> {
  const width = Math.max(1, Math.round(pair.width * scale));
  const height = Math.max(1, Math.round(pair.height * scale));
  if (width === pair.width && height === pair.height) return pair;
  const image = await resizeRgb({ width: pair.width, height: pair.height, data: pair.image }, width, height);
  return { width, height, image: image.data, label: resizeLabelNearest(pair.label, pair.width, pair.height, width, height) };
}

/** Random scale, one of `scales` with equal probability. */
export function randomScale(scales: readonly number[] = TRAIN_SCALES): Transform {
  if (scales.length === 0 || scales.some((s) => !(s > 0))) throw new Error(`randomScale: scales must be positive, got [${scales.join(', ')}]`);
  return (pair, rng) => scalePair(pair, scales[rng.int(scales.length)] as number);
}

/**
 * Pad at the bottom and right up to `size`x`size` (no-op when already large enough):
 * the image with `fill` (the mean pixel, which normalises to about zero), the label with 255.
 */
export function padTo(size: number, fill: readonly [number, number, number], labelFill = VOID_LABEL): Transform {
  return (pair) => {
    const width = Math.max(size, pair.width);
    const height = Math.max(size, pair.height);
    if (width === pair.width && height === pair.height) return pair;
    const image = new Uint8Array(width * height * 3);
    for (let i = 0; i < width * height; i++) {
      image[i * 3] = fill[0];
      image[i * 3 + 1] = fill[1];
      image[i * 3 + 2] = fill[2];
    }
    const label = new Uint8Array(width * height).fill(labelFill);
    for (let y = 0; y < pair.height; y++) {
      image.set(pair.image.subarray(y * pair.width * 3, (y + 1) * pair.width * 3), y * width * 3);
      label.set(pair.label.subarray(y * pair.width, (y + 1) * pair.width), y * width);
    }
    return { width, height, image, label };
  };
}

/** Crop the window of `width`x`height` at (`left`, `top`), which must lie inside the pair. */
export function cropPair(pair: ImageLabelPair, left: number, top: number, width: number, height: number): ImageLabelPair {
  if (left < 0 || top < 0 || left + width > pair.width || top + height > pair.height) {
    throw new Error(`cropPair: window ${width}x${height}+${left}+${top} outside ${pair.width}x${pair.height}`);
  }
  if (left === 0 && top === 0 && width === pair.width && height === pair.height) return pair;
  const image = new Uint8Array(width * height * 3);
  const label = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    const sy = top + y;
    image.set(pair.image.subarray((sy * pair.width + left) * 3, (sy * pair.width + left + width) * 3), y * width * 3);
    label.set(pair.label.subarray(sy * pair.width + left, sy * pair.width + left + width), y * width);
  }
  return { width, height, image, label };
}

/** A uniformly placed `size`x`size` crop; pad first (padTo) so the pair is at least that big. */
export function randomCrop(size: number): Transform {
  return (pair, rng) => {
    if (pair.width < size || pair.height < size) {
      throw new Error(`randomCrop(${size}): got a ${pair.width}x${pair.height} pair; put padTo(${size}) before it`);
    }
    const top = rng.int(pair.height - size + 1);
    const left = rng.int(pair.width - size + 1);
    return cropPair(pair, left, top, size, size);
  };
}

/** Mirror a pair left-right. */
export function flipPair(pair: ImageLabelPair): ImageLabelPair {
  const { width, height } = pair;
  const image = new Uint8Array(pair.image.length);
  const label = new Uint8Array(pair.label.length);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const src = row + x;
      const dst = row + width - 1 - x;
      label[dst] = pair.label[src] as number;
      image[dst * 3] = pair.image[src * 3] as number;
      image[dst * 3 + 1] = pair.image[src * 3 + 1] as number;
      image[dst * 3 + 2] = pair.image[src * 3 + 2] as number;
    }
  }
  return { width, height, image, label };
}

/** Mirror left-right with probability `p`. */
export function randomHorizontalFlip(p = 0.5): Transform {
  return (pair, rng) => (rng.next() < p ? flipPair(pair) : pair);
}
