/**
 * PASCAL VOC 2012 and the SBD augmentation, fetched and made ready, as torchvision's
 * `VOCSegmentation(download=True)` and mmsegmentation's `voc_aug.py` do, without Python:
 *
 * 1. `VOCtrainval_11-May-2012.tar` (torchvision's URL and MD5) is downloaded into the output
 *    folder (resumable, MD5-checked) and extracted, streamed, to `VOCdevkit/VOC2012/`;
 * 2. with SBD, `benchmark.tgz` (MD5-checked) is streamed once: each `dataset/cls/<id>.mat`
 *    (struct GTcls, field Segmentation) becomes `SegmentationClassAug/<id>.png` (grayscale
 *    class indices), and `ImageSets/Segmentation/trainaug.txt` lists SBD train + val plus VOC
 *    train, minus VOC val (10,582 ids on the real data); the rest of SBD is not written.
 *
 * Each step writes into a temporary folder and renames it into place when complete, and
 * records itself in `VOCdevkit/VOC2012/.seg-download.json`, so a rerun skips what is done and a
 * folder seg did not make is never written into. Archives already in the folder (or in a
 * local `mirror` folder) are checked and used as they are.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { writeJsonAtomic, writeFileAtomic } from '../core/durable-files.js';
import { SegError } from '../core/errors.js';
import { digestMismatch, downloadFile, type DownloadOptions, fileDigests } from '../core/http-download.js';
import { parseIdList } from './dataset.js';
import { encodeGrayLabelPng } from '../image/label-png.js';
import { matToRowMajorBytes, parseMat } from '../file-readers/mat-file.js';
import { memberPath, walkTar } from '../file-readers/tar-walk.js';

export interface ArchiveSpec {
  file: string;
  url: string;
  md5: string;
}

/** torchvision.datasets.VOCSegmentation's 2012 archive. */
export const VOC2012_ARCHIVE: ArchiveSpec = {
  file: 'VOCtrainval_11-May-2012.tar',
  url: 'http://host.robots.ox.ac.uk/pascal/VOC/voc2012/VOCtrainval_11-May-2012.tar',
  md5: '6cd6e144f989b92b3379bac3b3de84fd',
};

/** torchvision.datasets.SBDataset's archive (Hariharan et al., Semantic Boundaries Dataset). */
export const SBD_ARCHIVE: ArchiveSpec = {
  file: 'benchmark.tgz',
  url: 'https://www2.eecs.berkeley.edu/Research/Projects/CS/vision/grouping/semantic_contours/benchmark.tgz',
  md5: '82b4d87ceb2ed10f6038a1cba92111cb',
};

const VOC_PREFIX = 'VOCdevkit/VOC2012/';
const SBD_CLS = /^benchmark_RELEASE\/dataset\/cls\/([^/]+)\.mat$/;
const SBD_LIST = /^benchmark_RELEASE\/dataset\/(train|val)\.txt$/;
export const MARKER = '.seg-download.json';
export const AUG_DIR = 'SegmentationClassAug';
export const TRAINAUG = 'trainaug';
/** Marks a SegmentationClassAug folder as made by seg (a file no dataset reader looks at). */
const AUG_STAMP = '.seg-download';

export type DownloadStage = 'download' | 'extract' | 'convert';

export interface VocDownloadOptions {
  out: string;
  sbd?: boolean;
  /** A base URL, or a local folder, holding the archives under their own names. */
  mirror?: string;
  /** The archives (tests serve small ones). */
  voc?: ArchiveSpec;
  sbdArchive?: ArchiveSpec;
  /** Delete each archive once it is used. */
  removeArchives?: boolean;
  log?: (line: string) => void;
  onProgress?: (stage: DownloadStage, what: string, done: number, total: number | undefined) => void;
  download?: Pick<DownloadOptions, 'stallTimeoutMs' | 'retries' | 'retryDelayMs'>;
}

export interface VocDownloadResult {
  /** The VOC2012 folder (what --data takes). */
  root: string;
  splits: Record<string, number>;
  /** SBD labels converted (0 without --sbd). */
  augLabels: number;
  trainaug: number;
  /** Steps skipped because an earlier run had done them. */
  skipped: string[];
}

interface Marker {
  voc?: { archive: string; md5: string; url: string };
  sbd?: { archive: string; md5: string; url: string; labels: number; trainaug: number };
}

function readMarker(root: string): Marker | undefined {
  const file = join(root, MARKER);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Marker;
  } catch {
    throw new SegError(`${file}: unreadable; delete ${root} (or the file) and run seg data download again`, file);
  }
}

function isLocalFolder(mirror: string | undefined): mirror is string {
  return mirror !== undefined && !/^[a-z]+:\/\//i.test(mirror) && existsSync(mirror) && statSync(mirror).isDirectory();
}

/** The verified archive: already in `out` or a local mirror folder, else downloaded into `out`. */
async function obtainArchive(spec: ArchiveSpec, options: VocDownloadOptions, out: string): Promise<string> {
  const local = isLocalFolder(options.mirror) ? join(options.mirror, spec.file) : undefined;
  const candidates = [join(out, spec.file), ...(local !== undefined ? [local] : [])];
  for (const file of candidates) {
    if (!existsSync(file)) continue;
    options.log?.(`checking ${file} (MD5)`);
    const wrong = digestMismatch(await fileDigests(file), { md5: spec.md5 });
    if (wrong !== undefined) {
      throw new SegError(
        `${file}: ${wrong}; it is not ${spec.file} (or it is damaged): delete or move it, then run the command again`,
        file,
      );
    }
    return file;
  }
  if (local !== undefined) throw new SegError(`--mirror ${options.mirror}: has no ${spec.file}`, '--mirror');
  const url = options.mirror !== undefined ? `${options.mirror.replace(/\/+$/, '')}/${spec.file}` : spec.url;
  const dest = join(out, spec.file);
  options.log?.(`downloading ${url} to ${dest}`);
  await downloadFile({
    url,
    dest,
    md5: spec.md5,
    ...(options.onProgress !== undefined ? { onProgress: (done, total) => options.onProgress?.('download', spec.file, done, total) } : {}),
    ...(options.log !== undefined ? { log: options.log } : {}),
    ...options.download,
  });
  return dest;
}

/** A fresh temporary folder in `parent` (leftovers of crashed runs are removed). */
function stagingDir(parent: string, name: string): string {
  const prefix = `.${name}.partial-`;
  for (const entry of readdirSync(parent)) if (entry.startsWith(prefix)) rmSync(join(parent, entry), { recursive: true, force: true });
  const dir = join(parent, `${prefix}${process.pid}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

async function extractVoc(archive: string, spec: ArchiveSpec, out: string, options: VocDownloadOptions): Promise<string> {
  const root = join(out, 'VOCdevkit', 'VOC2012');
  const staging = stagingDir(out, 'voc2012');
  try {
    let files = 0;
    await walkTar(
      archive,
      async (member) => {
        if (!`${member.name}/`.startsWith(VOC_PREFIX) && member.name !== 'VOCdevkit') {
          throw new SegError(
            `${archive}: member '${member.name}' is not under ${VOC_PREFIX}; is this VOCtrainval_11-May-2012.tar?`,
            archive,
          );
        }
        if (member.type === 'directory') await mkdir(memberPath(staging, member), { recursive: true });
        else {
          await member.writeTo(memberPath(staging, member));
          files++;
        }
      },
      { ...(options.onProgress !== undefined ? { onProgress: (d, t) => options.onProgress?.('extract', archive, d, t) } : {}) },
    );
    const extracted = join(staging, 'VOCdevkit', 'VOC2012');
    if (!existsSync(join(extracted, 'ImageSets', 'Segmentation', 'train.txt'))) {
      throw new SegError(`${archive}: has no ${VOC_PREFIX}ImageSets/Segmentation/train.txt; is this VOCtrainval_11-May-2012.tar?`, archive);
    }
    // the folder arrives with its record: a crash after the rename still leaves a folder seg knows as its own
    writeJsonAtomic(join(extracted, MARKER), { voc: { archive: spec.file, md5: spec.md5, url: spec.url } });
    mkdirSync(join(out, 'VOCdevkit'), { recursive: true });
    renameSync(extracted, root);
    options.log?.(`extracted ${files} files to ${root}`);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return root;
}

function readList(root: string, split: string): string[] {
  const file = join(root, 'ImageSets', 'Segmentation', `${split}.txt`);
  if (!existsSync(file))
    throw new SegError(`${file}: missing; the VOC2012 folder is incomplete (delete it and run seg data download again)`, file);
  return parseIdList(readFileSync(file, 'utf8'));
}

async function convertSbd(archive: string, root: string, options: VocDownloadOptions): Promise<{ labels: number; trainaug: string[] }> {
  const labelDir = join(root, AUG_DIR);
  if (existsSync(labelDir)) {
    // one of seg's, from a run stopped before it recorded the step: made again
    if (!existsSync(join(labelDir, AUG_STAMP))) {
      throw new SegError(`${labelDir}: exists and was not made by seg data download; move it away, then run the command again`, labelDir);
    }
    rmSync(labelDir, { recursive: true, force: true });
  }
  const staging = stagingDir(root, AUG_DIR);
  await writeFile(join(staging, AUG_STAMP), `written by seg data download from ${basename(archive)}\n`);
  const lists: Record<string, string[]> = {};
  let labels = 0;
  try {
    await walkTar(
      archive,
      async (member) => {
        const cls = SBD_CLS.exec(member.name);
        if (cls !== null && member.type === 'file') {
          const id = cls[1] as string;
          const where = `${archive}: ${member.name}`;
          const gt = parseMat(await member.read(), where).get('GTcls');
          const seg = gt?.kind === 'struct' ? gt.elements[0]?.get('Segmentation') : undefined;
          if (seg === undefined) throw new SegError(`${where}: no GTcls.Segmentation (not an SBD cls file)`, archive);
          await writeFile(join(staging, `${id}.png`), encodeGrayLabelPng(matToRowMajorBytes(seg, 'GTcls.Segmentation', where)));
          labels++;
          return;
        }
        const list = SBD_LIST.exec(member.name);
        if (list !== null && member.type === 'file') lists[list[1] as string] = parseIdList((await member.read()).toString('utf8'));
      },
      { gzip: true, ...(options.onProgress !== undefined ? { onProgress: (d, t) => options.onProgress?.('convert', archive, d, t) } : {}) },
    );
    if (labels === 0 || lists.train === undefined || lists.val === undefined) {
      throw new SegError(
        `${archive}: has no benchmark_RELEASE/dataset/cls/*.mat with train.txt and val.txt; is this SBD's benchmark.tgz?`,
        archive,
      );
    }
    const vocVal = new Set(readList(root, 'val'));
    const ids = [...new Set([...lists.train, ...lists.val, ...readList(root, 'train')])].filter((id) => !vocVal.has(id)).sort();
    const missing = ids.filter((id) => !existsSync(join(root, 'JPEGImages', `${id}.jpg`)));
    if (missing.length > 0) {
      throw new SegError(
        `${archive}: ${missing.length} SBD images are not in ${join(root, 'JPEGImages')} (e.g. ${missing.slice(0, 3).join(', ')}); is the VOC folder VOC2012's?`,
        archive,
      );
    }
    const unlabelled = ids.filter(
      (id) => !existsSync(join(staging, `${id}.png`)) && !existsSync(join(root, 'SegmentationClass', `${id}.png`)),
    );
    if (unlabelled.length > 0)
      throw new SegError(`${archive}: no label for ${unlabelled.length} trainaug ids (e.g. ${unlabelled.slice(0, 3).join(', ')})`, archive);
    renameSync(staging, labelDir);
    writeFileAtomic(join(root, 'ImageSets', 'Segmentation', `${TRAINAUG}.txt`), `${ids.join('\n')}\n`);
    return { labels, trainaug: ids };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** Download VOC 2012 (and with `sbd` the SBD augmentation) into `options.out` (see the module comment). */
export async function downloadVoc2012(options: VocDownloadOptions): Promise<VocDownloadResult> {
  const out = resolve(options.out);
  const vocSpec = options.voc ?? VOC2012_ARCHIVE;
  const sbdSpec = options.sbdArchive ?? SBD_ARCHIVE;
  const root = join(out, 'VOCdevkit', 'VOC2012');
  mkdirSync(out, { recursive: true });
  const skipped: string[] = [];
  let marker = readMarker(root) ?? {};
  if (existsSync(root) && marker.voc === undefined) {
    throw new SegError(
      `${root}: exists and was not made by seg data download; use it as it is (--data ${root}), or choose another --out`,
      root,
    );
  }
  if (marker.voc?.md5 === vocSpec.md5) {
    skipped.push('voc2012');
    options.log?.(`${root}: VOC 2012 already extracted`);
  } else {
    const archive = await obtainArchive(vocSpec, options, out);
    await extractVoc(archive, vocSpec, out, options);
    marker = { voc: { archive: vocSpec.file, md5: vocSpec.md5, url: vocSpec.url } };
    if (options.removeArchives === true && archive.startsWith(out)) rmSync(archive, { force: true });
  }
  let augLabels = 0;
  let trainaug = 0;
  if (options.sbd === true) {
    if (marker.sbd?.md5 === sbdSpec.md5) {
      skipped.push('sbd');
      augLabels = marker.sbd.labels;
      trainaug = marker.sbd.trainaug;
      options.log?.(`${join(root, AUG_DIR)}: SBD already converted`);
    } else {
      const archive = await obtainArchive(sbdSpec, options, out);
      const converted = await convertSbd(archive, root, options);
      augLabels = converted.labels;
      trainaug = converted.trainaug.length;
      marker = { ...marker, sbd: { archive: sbdSpec.file, md5: sbdSpec.md5, url: sbdSpec.url, labels: augLabels, trainaug } };
      writeJsonAtomic(join(root, MARKER), marker);
      if (options.removeArchives === true && archive.startsWith(out)) rmSync(archive, { force: true });
    }
  }
  const splits: Record<string, number> = {};
  for (const split of ['train', 'val', 'trainval', ...(options.sbd === true ? [TRAINAUG] : [])])
    splits[split] = readList(root, split).length;
  return { root, splits, augLabels, trainaug, skipped };
}
