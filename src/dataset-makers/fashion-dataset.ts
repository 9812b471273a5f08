/**
 * Scenes composed of Fashion-MNIST items (real photographs of clothing): several items per
 * scene, scaled, tinted, overlapping, on varied textured backgrounds. Label = the item's
 * class (1 + its Fashion-MNIST label) where its own pixels are, 255 in a thin band along
 * every border. Train scenes draw only from the Fashion-MNIST train split, val scenes only
 * from its test split.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SegError } from '../core/errors.js';
import { Rng } from '../core/random.js';
import { readIdx, type IdxArray } from '../file-readers/idx-file.js';
import { clampByte, hsvToRgb, paintBackground } from './textures.js';
import { addVoidBorder } from './void-border.js';
import { checkCount, prepareVocOutput, writeMadeDataset } from './voc-writer.js';
import type { MadeDataset } from './synth-dataset.js';
import type { LabelImage, RgbImage } from '../image/types.js';

/** Where Debian's `dataset-fashion-mnist` package installs the IDX files. */
export const DEFAULT_FASHION_SOURCE = '/usr/share/datasets/fashion-mnist';

export const FASHION_CLASSES: readonly string[] = [
  'background',
  'tshirt',
  'trouser',
  'pullover',
  'dress',
  'coat',
  'sandal',
  'shirt',
  'sneaker',
  'bag',
  'ankle-boot',
];

export interface FashionDatasetOptions {
  out: string;
  /** Folder with train-images-idx3-ubyte(.gz), train-labels-idx1-ubyte(.gz), t10k-... (default: DEFAULT_FASHION_SOURCE). */
  source?: string;
  train?: number;
  val?: number;
  /** Square scene side (default 128). */
  size?: number;
  seed?: number;
  /** Items per scene: 2 up to this (default 4). */
  maxItems?: number;
  voidRadius?: number;
  overwrite?: boolean;
  onProgress?: (done: number, total: number) => void;
}

/** The items of one Fashion-MNIST split. */
export interface FashionItems {
  count: number;
  rows: number;
  cols: number;
  pixels: Uint8Array;
  labels: Uint8Array;
}

function findIdx(source: string, base: string): string {
  for (const name of [`${base}.gz`, base]) {
    const path = join(source, name);
    if (existsSync(path)) return path;
  }
  throw new SegError(
    `Fashion-MNIST not found: ${join(source, `${base}.gz`)} is missing. Install it with 'apt-get install dataset-fashion-mnist' ` +
      `(files in ${DEFAULT_FASHION_SOURCE}) or pass --source DIR holding the IDX files (train-images-idx3-ubyte.gz, ...)`,
    source,
  );
}

/** Load one split ('train' or 't10k') from the IDX files in `source`. */
export function loadFashionItems(source: string, split: 'train' | 't10k'): FashionItems {
  const imagesFile = findIdx(source, `${split}-images-idx3-ubyte`);
  const labelsFile = findIdx(source, `${split}-labels-idx1-ubyte`);
  const images: IdxArray = readIdx(imagesFile);
  const labels: IdxArray = readIdx(labelsFile);
  if (images.dims.length !== 3)
    throw new SegError(`${imagesFile}: expected 3 dimensions (count, rows, cols), got ${images.dims.length}`, imagesFile);
  if (labels.dims.length !== 1) throw new SegError(`${labelsFile}: expected 1 dimension (count), got ${labels.dims.length}`, labelsFile);
  const [count, rows, cols] = images.dims as [number, number, number];
  if (labels.dims[0] !== count)
    throw new SegError(`${labelsFile}: ${labels.dims[0]} labels for ${count} images in ${imagesFile}`, labelsFile);
  if (count === 0) throw new SegError(`${imagesFile}: no items`, imagesFile);
  const bad = labels.data.findIndex((l) => l > 9);
  if (bad >= 0) throw new SegError(`${labelsFile}: label ${labels.data[bad]} of item ${bad} is outside 0..9`, labelsFile);
  return { count, rows, cols, pixels: images.data, labels: labels.data };
}

/** Bilinear sample of an item at continuous (x, y) in item pixels; 0 outside. */
function sampleItem(items: FashionItems, index: number, x: number, y: number): number {
  const { rows, cols } = items;
  const base = index * rows * cols;
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  const fx = x - x0;
  const fy = y - y0;
  const at = (xx: number, yy: number): number =>
    xx < 0 || yy < 0 || xx >= cols || yy >= rows ? 0 : (items.pixels[base + yy * cols + xx] as number);
  return (at(x0, y0) * (1 - fx) + at(x0 + 1, y0) * fx) * (1 - fy) + (at(x0, y0 + 1) * (1 - fx) + at(x0 + 1, y0 + 1) * fx) * fy;
}

/** Item pixels at or above this intensity (of 255) belong to the item. */
const ITEM_THRESHOLD = 24;

function placeItem(image: Uint8Array, label: Uint8Array, size: number, items: FashionItems, rng: Rng): void {
  const index = rng.int(items.count);
  const cls = 1 + (items.labels[index] as number);
  const side = rng.uniform(0.3, 0.6) * size;
  const scale = side / Math.max(items.rows, items.cols);
  const w = items.cols * scale;
  const h = items.rows * scale;
  // Up to a quarter of an item may leave the frame, as objects do in photographs.
  const left = rng.uniform(-0.25 * w, size - 0.75 * w);
  const top = rng.uniform(-0.25 * h, size - 0.75 * h);
  const tint = hsvToRgb(rng.uniform(0, 360), rng.uniform(0.15, 0.8), rng.uniform(0.75, 1));
  const dark = rng.uniform(0.05, 0.3);
  for (let y = Math.max(0, Math.floor(top)); y < Math.min(size, Math.ceil(top + h)); y++) {
    for (let x = Math.max(0, Math.floor(left)); x < Math.min(size, Math.ceil(left + w)); x++) {
      const v = sampleItem(items, index, (x + 0.5 - left) / scale - 0.5, (y + 0.5 - top) / scale - 0.5);
      if (v < 1) continue;
      // Soft alpha at the faint rim keeps edges photographic; the label is the thresholded item.
      const alpha = Math.min(1, v / 48);
      const shade = dark + (1 - dark) * (v / 255);
      const i = y * size + x;
      for (let c = 0; c < 3; c++) {
        const fg = (tint[c] as number) * shade;
        image[i * 3 + c] = clampByte(fg * alpha + (image[i * 3 + c] as number) * (1 - alpha));
      }
      if (v >= ITEM_THRESHOLD) label[i] = cls;
    }
  }
}

/** Compose one scene from `items` (deterministic given `rng`). */
export function composeFashionScene(
  size: number,
  items: FashionItems,
  rng: Rng,
  maxItems = 4,
  voidRadius = 1,
): { image: RgbImage; label: LabelImage } {
  const image = paintBackground(size, size, rng, [0.05, 0.5]);
  const raw = new Uint8Array(size * size);
  const count = 2 + rng.int(Math.max(1, maxItems - 1));
  for (let k = 0; k < count; k++) placeItem(image, raw, size, items, rng);
  return {
    image: { width: size, height: size, data: image },
    label: { width: size, height: size, data: addVoidBorder(raw, size, size, voidRadius) },
  };
}

/** Make the Fashion-MNIST scenes dataset (train/val/trainval lists, 11 classes in classes.txt). */
export async function makeFashionDataset(options: FashionDatasetOptions): Promise<MadeDataset> {
  const train = checkCount('--train', options.train ?? 1000, 0);
  const val = checkCount('--val', options.val ?? 200, 0);
  const size = checkCount('--size', options.size ?? 128, 16);
  const maxItems = checkCount('maxItems', options.maxItems ?? 4, 2);
  const seed = options.seed ?? 0;
  const source = options.source ?? DEFAULT_FASHION_SOURCE;
  const trainItems = train > 0 ? loadFashionItems(source, 'train') : undefined;
  const testItems = val > 0 ? loadFashionItems(source, 't10k') : undefined;
  const root = prepareVocOutput(options.out, options.overwrite);
  return writeMadeDataset(
    root,
    { train, val },
    FASHION_CLASSES,
    (split, id) =>
      composeFashionScene(
        size,
        (split === 'train' ? trainItems : testItems) as FashionItems,
        new Rng(seed, `fashion/${id}`),
        maxItems,
        options.voidRadius ?? 1,
      ),
    options.onProgress,
  );
}
