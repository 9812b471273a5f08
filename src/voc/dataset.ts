/**
 * A dataset in PASCAL VOC layout: `JPEGImages/<id>.jpg`, labels in `SegmentationClass/<id>.png`
 * (palette) or `SegmentationClassAug/<id>.png` (SBD, grayscale), id lists in
 * `ImageSets/Segmentation/<split>.txt`, optional `classes.txt`.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { expectedOneOf, SegError } from '../core/errors.js';
import { readClassNames } from './classes.js';

export interface Dataset {
  /** The resolved VOC2012-level folder. */
  root: string;
  classNames: string[];
  /** Ids listed in `ImageSets/Segmentation/<split>.txt` (for `trainaug` also `train_aug.txt`). */
  listSplit(split: string): string[];
  /** The split names available (list files in ImageSets/Segmentation). */
  splits(): string[];
  /** The list file of `split` (for `trainaug` also `train_aug.txt`); undefined when there is none. */
  listFile(split: string): string | undefined;
  /** Path of `<id>`'s image (`JPEGImages/<id>.jpg`; `.jpeg`/`.png` when only those exist). */
  imagePath(id: string): string;
  /** Path of `<id>`'s label: SegmentationClass if that file exists, else SegmentationClassAug. */
  labelPath(id: string): string;
}

export const IMAGE_DIR = 'JPEGImages';
export const LABEL_DIRS = ['SegmentationClass', 'SegmentationClassAug'] as const;
export const LIST_DIR = join('ImageSets', 'Segmentation');

function isDir(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory();
}

function looksLikeVoc(dir: string): boolean {
  return isDir(join(dir, IMAGE_DIR)) || isDir(join(dir, LIST_DIR));
}

/** Find the VOC2012-level folder under `root`: the folder itself, `VOC2012/` or `VOCdevkit/VOC2012/`. */
export function resolveDatasetRoot(root: string): string {
  const base = resolve(root);
  if (!isDir(base)) {
    throw new SegError(`${root}: dataset folder not found; make one with 'seg data synth --out ${root}' or pass --data DIR`, root);
  }
  for (const candidate of [base, join(base, 'VOC2012'), join(base, 'VOCdevkit', 'VOC2012')]) {
    if (looksLikeVoc(candidate)) return candidate;
  }
  throw new SegError(
    `${root}: not a VOC-layout dataset: expected ${IMAGE_DIR}/ and ${LIST_DIR}/ in it (or in VOC2012/ or VOCdevkit/VOC2012/ beneath it)`,
    root,
  );
}

/** Ids of a list file: one id per line; DeepLab-style "/JPEGImages/x.jpg /SegmentationClassAug/x.png" lines give x. */
export function parseIdList(text: string): string[] {
  const ids: string[] = [];
  for (const line of text.replace(/\r/g, '').split('\n')) {
    const first = line.trim().split(/\s+/)[0] ?? '';
    if (first === '') continue;
    ids.push(first.includes('/') ? basename(first, extname(first)) : first);
  }
  return ids;
}

/** Open a VOC-layout dataset (the root, or a folder holding VOC2012/ or VOCdevkit/VOC2012/). */
export function openDataset(root: string): Dataset {
  const dir = resolveDatasetRoot(root);
  const classNames = readClassNames(join(dir, 'classes.txt'));
  const listDir = join(dir, LIST_DIR);

  const splits = (): string[] =>
    isDir(listDir)
      ? readdirSync(listDir)
          .filter((f) => f.endsWith('.txt'))
          .map((f) => f.slice(0, -4))
          .sort()
      : [];

  const listFile = (split: string): string | undefined => {
    if (split === '' || split.includes('/') || split.includes('\\')) return undefined;
    const names = split === 'trainaug' ? ['trainaug', 'train_aug'] : [split];
    return names.map((n) => join(listDir, `${n}.txt`)).find((f) => existsSync(f));
  };

  return {
    root: dir,
    classNames,
    splits,
    listFile,
    listSplit(split: string): string[] {
      if (split === '' || split.includes('/') || split.includes('\\')) throw expectedOneOf('--split', split, splits());
      const file = listFile(split);
      if (file === undefined) {
        const have = splits();
        if (have.length === 0)
          throw new SegError(`${listDir}: no split lists (<split>.txt) found; the dataset has no ${LIST_DIR}/*.txt`, listDir);
        throw expectedOneOf(`--split (lists in ${listDir})`, split, have);
      }
      const ids = parseIdList(readFileSync(file, 'utf8'));
      if (ids.length === 0) throw new SegError(`${file}: the split list is empty; list one image id per line`, file);
      return ids;
    },
    imagePath(id: string): string {
      const jpg = join(dir, IMAGE_DIR, `${id}.jpg`);
      if (existsSync(jpg)) return jpg;
      for (const ext of ['.jpeg', '.png']) {
        const other = join(dir, IMAGE_DIR, `${id}${ext}`);
        if (existsSync(other)) return other;
      }
      return jpg;
    },
    labelPath(id: string): string {
      const paths = LABEL_DIRS.map((d) => join(dir, d, `${id}.png`));
      return paths.find((p) => existsSync(p)) ?? (paths[0] as string);
    },
  };
}
