/**
 * Joint image/label transforms, torchvision style: small functions `(pair, rng) -> pair`
 * composed in a list. Images are resized bilinearly, labels only by nearest neighbour, so no
 * transform ever creates a label value except 255 in padding. Inputs are never mutated.
 * Every transform draws the same number of random values whatever the input, so a sample's
 * augmentation depends only on its own generator.
 */
import type { Rng } from '../core/random.js';
import { resizeRgb, resizeRgbRegion, type Region } from '../image/image-io.js';
import { VOID_LABEL } from '../image/types.js';

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
  return resizeLabelNearestRegion(label, width, height, newWidth, newHeight, { left: 0, top: 0, width: newWidth, height: newHeight });
}

/** The `region` of the label resized (nearest) to `newWidth`x`newHeight`, computing only that region. */
export function resizeLabelNearestRegion(
  label: Uint8Array,
  width: number,
  height: number,
  newWidth: number,
  newHeight: number,
  region: Region,
): Uint8Array {
  const out = new Uint8Array(region.width * region.height);
  const xs = new Int32Array(region.width);
  for (let x = 0; x < region.width; x++) xs[x] = Math.min(width - 1, Math.floor(((region.left + x + 0.5) * width) / newWidth));
  for (let y = 0; y < region.height; y++) {
    const sy = Math.min(height - 1, Math.floor(((region.top + y + 0.5) * height) / newHeight));
    const src = sy * width;
    const dst = y * region.width;
    for (let x = 0; x < region.width; x++) out[dst + x] = label[src + (xs[x] as number)] as number;
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
  if (scales.length === 0 || scales.some((s) => !(s > 0)))
    throw new Error(`randomScale: scales must be positive, got [${scales.join(', ')}]`);
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
    return placeOnCanvas(pair, width, height, fill, labelFill);
  };
}

/** `pair` at the top left of a `width`x`height` canvas of `fill` (image) and `labelFill` (label). */
function placeOnCanvas(
  pair: ImageLabelPair,
  width: number,
  height: number,
  fill: readonly [number, number, number],
  labelFill: number,
): ImageLabelPair {
  const image = new Uint8Array(width * height * 3);
  const label = new Uint8Array(width * height);
  const fillRow = new Uint8Array(width * 3);
  for (let x = 0; x < width; x++) fillRow.set(fill, x * 3);
  for (let y = 0; y < height; y++) {
    if (y < pair.height) {
      image.set(pair.image.subarray(y * pair.width * 3, (y + 1) * pair.width * 3), y * width * 3);
      label.set(pair.label.subarray(y * pair.width, (y + 1) * pair.width), y * width);
      if (pair.width < width) {
        image.set(fillRow.subarray(0, (width - pair.width) * 3), (y * width + pair.width) * 3);
        label.fill(labelFill, y * width + pair.width, (y + 1) * width);
      }
    } else {
      image.set(fillRow, y * width * 3);
      label.fill(labelFill, y * width, (y + 1) * width);
    }
  }
  return { width, height, image, label };
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

/**
 * randomScaleCrop without the padding: the window of the scaled pair that a `size` crop
 * keeps, smaller than `size` where the scaled pair is (as mmseg's RandomCrop returns it; pad
 * later with padTo). Same draws as randomScaleCrop.
 */
export function randomScaleCropWindow(size: number, scales: readonly number[] = TRAIN_SCALES): Transform {
  if (scales.length === 0 || scales.some((s) => !(s > 0)))
    throw new Error(`randomScaleCrop: scales must be positive, got [${scales.join(', ')}]`);
  return async (pair, rng) => {
    const scale = scales[rng.int(scales.length)] as number;
    const width = Math.max(1, Math.round(pair.width * scale));
    const height = Math.max(1, Math.round(pair.height * scale));
    const top = rng.int(Math.max(size, height) - size + 1);
    const left = rng.int(Math.max(size, width) - size + 1);
    // The crop window in the scaled image; it starts inside it (left < width, top < height) and the rest is padding.
    const region: Region = { left, top, width: Math.min(size, width - left), height: Math.min(size, height - top) };
    const image = await resizeRgbRegion({ width: pair.width, height: pair.height, data: pair.image }, width, height, region);
    const label = resizeLabelNearestRegion(pair.label, pair.width, pair.height, width, height, region);
    return { width: region.width, height: region.height, image: image.data, label };
  };
}

/**
 * randomScale, padTo and randomCrop in one step, with the same random draws and the same
 * result (up to rounding of the bilinear image): only the window that survives the crop
 * is resized, which makes large scales about 3x cheaper. The default training pipeline.
 */
export function randomScaleCrop(
  size: number,
  fill: readonly [number, number, number],
  scales: readonly number[] = TRAIN_SCALES,
  labelFill = VOID_LABEL,
): Transform {
  const window = randomScaleCropWindow(size, scales);
  return async (pair, rng) => {
    const w = await window(pair, rng);
    return w.width === size && w.height === size ? w : placeOnCanvas(w, size, size, fill, labelFill);
  };
}

/** Mirror a pair left-right. */
export function flipPair(pair: ImageLabelPair): ImageLabelPair {
  const { width, height } = pair;
  const image = new Uint8Array(pair.image.length);
  const label = Uint8Array.from(pair.label);
  for (let y = 0; y < height; y++) {
    label.subarray(y * width, (y + 1) * width).reverse();
    const row = y * width * 3;
    const last = row + (width - 1) * 3;
    for (let x = 0; x < width * 3; x += 3) {
      image[last - x] = pair.image[row + x] as number;
      image[last - x + 1] = pair.image[row + x + 1] as number;
      image[last - x + 2] = pair.image[row + x + 2] as number;
    }
  }
  return { width, height, image, label };
}

/** Mirror left-right with probability `p`. */
export function randomHorizontalFlip(p = 0.5): Transform {
  return (pair, rng) => (rng.next() < p ? flipPair(pair) : pair);
}
