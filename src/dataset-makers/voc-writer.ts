/** Writing a dataset in VOC layout: images, palette label PNGs, split lists, classes.txt. */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SegError } from '../core/errors.js';
import { makeFolder } from '../core/folders.js';
import { IMAGE_DIR, LIST_DIR } from '../datasets/dataset.js';
import { writeJpeg } from '../image/image-io.js';
import { writeLabelPng } from '../image/label-png.js';
import type { LabelImage, RgbImage } from '../image/types.js';
import { runLimited } from '../core/run-limited.js';

export const LABEL_DIR = 'SegmentationClass';

/** Create the VOC folders under `out`; refuse a non-empty `out` unless `overwrite` (files are then replaced, nothing removed). */
export function prepareVocOutput(out: string, overwrite = false): string {
  const root = resolve(out);
  makeFolder(out, '--out');
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

/** What a dataset maker wrote: its root, class names and split lists. */
export interface MadeDataset {
  root: string;
  classNames: string[];
  splits: Record<string, string[]>;
}

/**
 * Write a made dataset: `train` images `train_00000...` and `val` images `val_00000...`,
 * each drawn by `draw(split, id)` (which must depend on the id only, not on write order),
 * four at a time, then the train/val/trainval lists and classes.txt.
 */
export async function writeMadeDataset(
  root: string,
  counts: { train: number; val: number },
  classNames: readonly string[],
  draw: (split: 'train' | 'val', id: string) => { image: RgbImage; label: LabelImage },
  onProgress?: (done: number, total: number) => void,
): Promise<MadeDataset> {
  const jobs = [
    ...Array.from({ length: counts.train }, (_, i) => ({ split: 'train' as const, id: `train_${String(i).padStart(5, '0')}` })),
    ...Array.from({ length: counts.val }, (_, i) => ({ split: 'val' as const, id: `val_${String(i).padStart(5, '0')}` })),
  ];
  let done = 0;
  await runLimited(jobs.length, 4, async (i) => {
    const job = jobs[i] as (typeof jobs)[number];
    const scene = draw(job.split, job.id);
    await writeVocSample(root, job.id, scene.image, scene.label);
    onProgress?.(++done, jobs.length);
  });
  const trainIds = jobs.filter((j) => j.split === 'train').map((j) => j.id);
  const valIds = jobs.filter((j) => j.split === 'val').map((j) => j.id);
  const splits = { train: trainIds, val: valIds, trainval: [...trainIds, ...valIds] };
  writeVocIndex(root, splits, classNames);
  return { root, classNames: [...classNames], splits };
}
