/** Writing a dataset in VOC layout: images, palette label PNGs, split lists, classes.txt. */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SegError } from '../errors.js';
import { IMAGE_DIR, LIST_DIR } from './dataset.js';
import { writeJpeg } from './image-io.js';
import { writeLabelPng } from './label-png.js';
import type { LabelImage, RgbImage } from './types.js';

export const LABEL_DIR = 'SegmentationClass';

/** Create the VOC folders under `out`; refuse a non-empty `out` unless `overwrite` (files are then replaced, nothing removed). */
export function prepareVocOutput(out: string, overwrite = false): string {
  const root = resolve(out);
  if (existsSync(root) && readdirSync(root).length > 0 && !overwrite) {
    throw new SegError(`${out}: folder exists and is not empty; choose a new --out or pass --overwrite to write into it`, out);
  }
  for (const dir of [IMAGE_DIR, LABEL_DIR, LIST_DIR]) mkdirSync(join(root, dir), { recursive: true });
  return root;
}

/** Write one sample: `JPEGImages/<id>.jpg` and `SegmentationClass/<id>.png`. */
export async function writeVocSample(root: string, id: string, image: RgbImage, label: LabelImage, quality = 90): Promise<void> {
  writeLabelPng(join(root, LABEL_DIR, `${id}.png`), label);
  await writeJpeg(join(root, IMAGE_DIR, `${id}.jpg`), image, quality);
}

/** Write `ImageSets/Segmentation/<split>.txt` for each split and `classes.txt`. */
export function writeVocIndex(root: string, splits: Record<string, readonly string[]>, classNames: readonly string[]): void {
  for (const [split, ids] of Object.entries(splits)) {
    writeFileSync(join(root, LIST_DIR, `${split}.txt`), ids.length > 0 ? `${ids.join('\n')}\n` : '');
  }
  writeFileSync(join(root, 'classes.txt'), `${classNames.join('\n')}\n`);
}

/** A maker's count option: an integer >= min, else a SegError naming the flag. */
export function checkCount(flag: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) throw new SegError(`${flag}: got '${value}', expected an integer >= ${min}`, flag);
  return value;
}
