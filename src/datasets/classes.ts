/** Class names: a dataset's `classes.txt` (one name per line, index = line number) or the 21 VOC classes. */
import { existsSync, readFileSync } from 'node:fs';
import { SegError } from '../core/errors.js';

/** The 21 PASCAL VOC 2012 classes, background first (index = class id). */
export const VOC_CLASSES: readonly string[] = [
  'background',
  'aeroplane',
  'bicycle',
  'bird',
  'boat',
  'bottle',
  'bus',
  'car',
  'cat',
  'chair',
  'cow',
  'diningtable',
  'dog',
  'horse',
  'motorbike',
  'person',
  'pottedplant',
  'sheep',
  'sofa',
  'train',
  'tvmonitor',
];

/** Most classes a label can index: 255 is void. */
export const MAX_CLASSES = 255;

/** Parse `classes.txt` text; trailing blank lines are allowed, blank names inside are not. */
export function parseClassNames(text: string, file: string): string[] {
  const lines = text
    .replace(/\r/g, '')
    .split('\n')
    .map((l) => l.trim());
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (lines.length < 2) {
    throw new SegError(`${file}: expected one class name per line (background first), at least 2; found ${lines.length}`, file);
  }
  if (lines.length > MAX_CLASSES) {
    throw new SegError(`${file}: ${lines.length} classes, at most ${MAX_CLASSES} are possible (label 255 is void)`, file);
  }
  const blank = lines.indexOf('');
  if (blank >= 0) throw new SegError(`${file}: line ${blank + 1} is blank; every class index needs a name`, file);
  const seen = new Set<string>();
  for (const [i, name] of lines.entries()) {
    if (seen.has(name)) throw new SegError(`${file}: class '${name}' appears twice (line ${i + 1})`, file);
    seen.add(name);
  }
  return lines;
}

/** The classes of a dataset root: its `classes.txt` when present, else the VOC classes. */
export function readClassNames(classesFile: string): string[] {
  if (!existsSync(classesFile)) return [...VOC_CLASSES];
  return parseClassNames(readFileSync(classesFile, 'utf8'), classesFile);
}
