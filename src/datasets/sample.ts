/** Loading one dataset entry: decode image and label, then check they belong together. */
import { existsSync } from 'node:fs';
import { SegError } from '../core/errors.js';
import type { Dataset } from './dataset.js';
import { decodeImage, readImageSize } from '../image/image-io.js';
import { loadLabelPng, readLabelPngSize } from '../image/label-png.js';
import { VOID_LABEL } from '../image/types.js';
import type { Sample } from './types.js';
import { applyLabelMap } from './label-map.js';

interface Size {
  width: number;
  height: number;
}

/** Label values outside 0..K-1 that are not 255 (void), with their pixel counts; empty when all is well. */
export function invalidLabelValues(label: Uint8Array, numClasses: number): Map<number, number> {
  const histogram = new Uint32Array(256);
  for (let i = 0; i < label.length; i++) histogram[label[i] as number]++;
  const bad = new Map<number, number>();
  for (let v = numClasses; v < 256; v++) {
    if (v !== VOID_LABEL && (histogram[v] as number) > 0) bad.set(v, histogram[v] as number);
  }
  return bad;
}

/** "label values 21 (40 px), 37 (3 px) outside 0..20 and not 255 (void)" or undefined. */
export function describeInvalidLabels(label: Uint8Array, numClasses: number): string | undefined {
  const bad = invalidLabelValues(label, numClasses);
  if (bad.size === 0) return undefined;
  const listed = [...bad].map(([v, n]) => `${v} (${n} px)`).join(', ');
  return `label values ${listed} outside 0..${numClasses - 1} and not 255 (void)`;
}

/** Image/label size problem text, or undefined when they match. */
export function describeSizeMismatch(image: Size, label: Size): string | undefined {
  if (image.width === label.width && image.height === label.height) return undefined;
  return `image is ${image.width}x${image.height} but its label is ${label.width}x${label.height}`;
}

/**
 * Decode `id`'s image and label and check them: sizes match, every label value is a class
 * index or 255. Any problem is a SegError naming the file.
 */
export async function loadSample(dataset: Dataset, id: string): Promise<Sample> {
  const imagePath = dataset.imagePath(id);
  const labelPath = dataset.labelPath(id);
  if (!existsSync(labelPath)) {
    throw new SegError(
      `${labelPath}: label of '${id}' not found (looked in SegmentationClass/ and SegmentationClassAug/ of ${dataset.root})`,
      labelPath,
    );
  }
  // Sizes from the headers first: a label that declares another size is never inflated.
  const [imageSize, labelSize] = await Promise.all([readImageSize(imagePath), readLabelPngSize(labelPath)]);
  const declared = describeSizeMismatch(imageSize, labelSize);
  if (declared !== undefined) throw new SegError(`${labelPath}: ${declared} (${imagePath})`, labelPath);
  const [image, label] = await Promise.all([decodeImage(imagePath), loadLabelPng(labelPath)]);
  const mismatch = describeSizeMismatch(image, label);
  if (mismatch !== undefined) throw new SegError(`${labelPath}: ${mismatch} (${imagePath})`, labelPath);
  const classes = applyLabelMap(label.data, dataset.labelMap);
  const invalid = describeInvalidLabels(classes, dataset.classNames.length);
  if (invalid !== undefined) {
    throw new SegError(
      `${labelPath}: ${invalid}; the dataset has ${dataset.classNames.length} classes (classes.txt or the 21 VOC classes)`,
      labelPath,
    );
  }
  return { id, width: image.width, height: image.height, image: image.data, label: classes };
}
