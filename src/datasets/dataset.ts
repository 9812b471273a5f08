/**
 * A dataset on disk and the VOC-style folder the built-in layouts share: `JPEGImages/<id>.jpg`,
 * labels in `SegmentationClass/<id>.png` (palette) or `SegmentationClassAug/<id>.png` (SBD,
 * grayscale), id lists in `ImageSets/Segmentation/<split>.txt`. Which layout a folder is in
 * (VOC, SBD trainaug, classes.txt) is decided in open-dataset.ts.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expectedOneOf, SegError } from '../core/errors.js';
import { vocColormap } from '../image/colormap.js';
import { printable } from '../core/printable.js';

export interface Dataset {
  /** The resolved dataset folder (for VOC the VOC2012-level folder). */
  root: string;
  /** The name of the layout that opened it (see open-dataset.ts). */
  layout: string;
  classNames: string[];
  /**
   * Lookup table applied to every label value as it is read (256 entries: stored value ->
   * class index or 255 = void), e.g. Cityscapes' labelId -> trainId or ADE20K's
   * reduce-zero-label; undefined: labels are used as stored. See label-map.ts.
   */
  labelMap?: Uint8Array;
  /** RGB colour of each class index, 256 x 3 bytes (index 255 = void): masks and --show-dir images use it. */
  palette: Uint8Array;
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

export function isDir(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory();
}

function looksLikeVoc(dir: string): boolean {
  return isDir(join(dir, IMAGE_DIR)) || isDir(join(dir, LIST_DIR));
}

/** The VOC2012-level folder at or under `root` (itself, `VOC2012/` or `VOCdevkit/VOC2012/`), or undefined. */
export function findVocFolder(root: string): string | undefined {
  const base = resolve(root);
  return [base, join(base, 'VOC2012'), join(base, 'VOCdevkit', 'VOC2012')].find(looksLikeVoc);
}

/** DeepLab's list lines: `/JPEGImages/<id>.jpg /SegmentationClassAug/<id>.png` (any folders above JPEGImages). */
const DEEPLAB_IMAGE_PATH = /^(?:\/?[^/\\]+)*\/?JPEGImages\/([^/\\]+)\.(?:jpe?g|png)$/i;

export interface IdLine {
  id: string;
  /** 1-based line of the list file. */
  line: number;
}

/**
 * Ids of a list file with their lines: one id per line; DeepLab-style
 * "/JPEGImages/x.jpg /SegmentationClassAug/x.png" lines give x. An id with a folder part
 * (`../x`, `/etc/x`, `a\b`) is refused naming the line: cut to its basename it would name
 * another image than the line says.
 */
export function parseIdLines(text: string, file = '<list>'): IdLine[] {
  const ids: IdLine[] = [];
  const lines = text.replace(/\r/g, '').split('\n');
  lines.forEach((raw, i) => {
    const first = raw.trim().split(/\s+/)[0] ?? '';
    if (first === '') return;
    const deeplab = DEEPLAB_IMAGE_PATH.exec(first);
    const id = deeplab !== null && !first.split('/').includes('..') ? (deeplab[1] as string) : first;
    if (/[/\\]/.test(id) || id === '.' || id === '..') {
      throw new SegError(
        `${file}: line ${i + 1}: id '${printable(first)}' names a path, not an image id; list ids such as 2007_000032 ` +
          "(JPEGImages/<id>.jpg), or DeepLab's '/JPEGImages/<id>.jpg /SegmentationClassAug/<id>.png' lines",
        file,
      );
    }
    ids.push({ id, line: i + 1 });
  });
  return ids;
}

/** The ids of a list file (see parseIdLines). */
export function parseIdList(text: string, file = '<list>'): string[] {
  return parseIdLines(text, file).map((l) => l.id);
}

/**
 * The ids of `split` for scoring: an id listed twice would be counted twice, so a repeated id
 * is refused, naming the lines. `limit`: only the first `limit` ids.
 */
export function scoredSplitIds(dataset: Dataset, split: string, limit?: number): string[] {
  let ids = dataset.listSplit(split);
  if (limit !== undefined) ids = ids.slice(0, limit);
  const file = dataset.listFile(split) as string;
  const seen = new Set<string>();
  const repeated: string[] = [];
  for (const id of ids) {
    if (seen.has(id)) repeated.push(id);
    seen.add(id);
  }
  const first = repeated[0];
  if (first === undefined) return ids;
  const lines = parseIdLines(readFileSync(file, 'utf8'), file)
    .filter((l) => l.id === first)
    .map((l) => l.line);
  const others = new Set(repeated).size - 1;
  throw new SegError(
    `${file}: id '${printable(first)}' is listed ${lines.length} times (lines ${lines.join(', ')})` +
      `${others > 0 ? `, and ${others} more ids are repeated` : ''}; seg eval scores each image once: remove the repeated lines ` +
      '(seg data check lists them all)',
    file,
  );
}

/** How a layout's folder differs from the plain VOC one. */
export interface VocFolderOptions {
  layout: string;
  classNames: string[];
  /** Label folders looked in, first match wins. */
  labelDirs: readonly string[];
  labelMap?: Uint8Array;
  palette?: Uint8Array;
}

/** A dataset in the VOC folder structure at `dir` (already resolved, see findVocFolder). */
export function vocFolderDataset(dir: string, options: VocFolderOptions): Dataset {
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
    layout: options.layout,
    classNames: options.classNames,
    ...(options.labelMap !== undefined ? { labelMap: options.labelMap } : {}),
    palette: options.palette ?? vocColormap(),
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
      const ids = parseIdList(readFileSync(file, 'utf8'), file);
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
      const paths = options.labelDirs.map((d) => join(dir, d, `${id}.png`));
      return paths.find((p) => existsSync(p)) ?? (paths[0] as string);
    },
  };
}
