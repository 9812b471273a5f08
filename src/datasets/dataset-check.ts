/**
 * `seg data check`: read every listed sample and report counts and every problem found
 * (not only the first): missing or undecodable files, size mismatches, labels outside the
 * classes, empty or missing lists.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { isUserError } from '../core/errors.js';
import { printable } from '../core/printable.js';
import { LIST_DIR, type Dataset } from './dataset.js';
import { openDataset } from './open-dataset.js';
import { decodeImage } from '../image/image-io.js';
import { loadLabelPng, readLabelPngSize } from '../image/label-png.js';
import { describeInvalidLabels, describeSizeMismatch } from './sample.js';
import { applyLabelMap } from './label-map.js';
import { runLimited } from '../core/run-limited.js';
import { VOID_LABEL, type LabelImage, type RgbImage } from '../image/types.js';

export interface CheckProblem {
  /** The sample id, or null for problems of the dataset itself (e.g. its list). */
  id: string | null;
  file: string;
  problem: string;
}

export interface ClassCount {
  name: string;
  /** Pixels labelled with the class. */
  pixels: number;
  /** Images whose label contains the class. */
  images: number;
}

export interface SizeRange {
  width: { min: number; max: number };
  height: { min: number; max: number };
}

export interface CheckReport {
  root: string;
  split: string;
  /** Ids in the list. */
  listed: number;
  /** Images that decoded. */
  images: number;
  /** Image size range over decoded images (null when none decoded). */
  sizes: SizeRange | null;
  classes: ClassCount[];
  void_pixels: number;
  problems: CheckProblem[];
}

export interface CheckOptions {
  onProgress?: (done: number, total: number) => void;
  /** Samples read at once (default 4). */
  concurrency?: number;
  /** Only the first `limit` ids of the split. */
  limit?: number;
}

function problemOf(err: unknown, id: string | null, file: string): CheckProblem {
  if (!isUserError(err)) throw err;
  const subject = err.subject ?? file;
  const prefix = `${subject}: `;
  return { id, file: subject, problem: err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message };
}

/** Check split `split` of the dataset at `root` (or an opened Dataset). */
export async function checkDataset(root: string | Dataset, split = 'train', options: CheckOptions = {}): Promise<CheckReport> {
  const dataset = typeof root === 'string' ? openDataset(root) : root;
  const K = dataset.classNames.length;
  const report: CheckReport = {
    root: dataset.root,
    split,
    listed: 0,
    images: 0,
    sizes: null,
    classes: dataset.classNames.map((name) => ({ name, pixels: 0, images: 0 })),
    void_pixels: 0,
    problems: [],
  };
  const listPath = dataset.listFile(split) ?? join(dataset.root, LIST_DIR, `${split}.txt`);
  if (dataset.listFile(split) === undefined) {
    const have = dataset.splits();
    report.problems.push({
      id: null,
      file: listPath,
      problem: `split list not found (lists here: ${have.length > 0 ? have.join(', ') : 'none'})`,
    });
    return report;
  }
  let ids: string[];
  try {
    ids = dataset.listSplit(split);
    if (options.limit !== undefined) ids = ids.slice(0, options.limit);
  } catch (err) {
    report.problems.push(problemOf(err, null, listPath));
    return report;
  }
  report.listed = ids.length;
  const seen = new Set<string>();
  for (const id of ids) {
    if (seen.has(id)) report.problems.push({ id, file: listPath, problem: `id '${id}' is listed more than once` });
    seen.add(id);
  }
  const unique = [...seen];
  const found: CheckProblem[][] = unique.map(() => []);
  let done = 0;
  await runLimited(unique.length, options.concurrency ?? 4, async (i) => {
    const id = unique[i] as string;
    const problems = found[i] as CheckProblem[];
    const imagePath = dataset.imagePath(id);
    const labelPath = dataset.labelPath(id);
    let image: RgbImage | undefined;
    let label: LabelImage | undefined;
    try {
      image = await decodeImage(imagePath);
    } catch (err) {
      problems.push(problemOf(err, id, imagePath));
    }
    if (!existsSync(labelPath)) {
      problems.push({ id, file: labelPath, problem: 'label file not found (looked in SegmentationClass/ and SegmentationClassAug/)' });
    } else {
      try {
        // The declared size first: a label that differs from its image is never inflated.
        const declared = await readLabelPngSize(labelPath);
        const mismatch = image === undefined ? undefined : describeSizeMismatch(image, declared);
        if (mismatch !== undefined) problems.push({ id, file: labelPath, problem: mismatch });
        else {
          const stored = await loadLabelPng(labelPath);
          label = { ...stored, data: applyLabelMap(stored.data, dataset.labelMap) };
        }
      } catch (err) {
        problems.push(problemOf(err, id, labelPath));
      }
    }
    if (image !== undefined) {
      report.images += 1;
      const s = report.sizes;
      if (s === null) {
        report.sizes = { width: { min: image.width, max: image.width }, height: { min: image.height, max: image.height } };
      } else {
        s.width.min = Math.min(s.width.min, image.width);
        s.width.max = Math.max(s.width.max, image.width);
        s.height.min = Math.min(s.height.min, image.height);
        s.height.max = Math.max(s.height.max, image.height);
      }
    }
    if (label !== undefined) {
      const mismatch = image === undefined ? undefined : describeSizeMismatch(image, label);
      if (mismatch !== undefined) problems.push({ id, file: labelPath, problem: mismatch });
      const invalid = describeInvalidLabels(label.data, K);
      if (invalid !== undefined) problems.push({ id, file: labelPath, problem: `${invalid} (the dataset has ${K} classes)` });
      const histogram = new Float64Array(256);
      for (let p = 0; p < label.data.length; p++) histogram[label.data[p] as number]++;
      report.void_pixels += histogram[VOID_LABEL] as number;
      report.classes.forEach((c, k) => {
        const n = histogram[k] as number;
        c.pixels += n;
        if (n > 0) c.images += 1;
      });
    }
    options.onProgress?.(++done, unique.length);
  });
  // Problems in list order, whatever order the reads finished in.
  for (const p of found) report.problems.push(...p);
  return report;
}

/** The report as text lines for a terminal. */
export function formatCheckReport(report: CheckReport): string {
  const lines: string[] = [];
  const s = report.sizes;
  const sizes = s === null ? 'no image decoded' : `sizes ${s.width.min}..${s.width.max} x ${s.height.min}..${s.height.max}`;
  lines.push(`${printable(report.root)} split '${printable(report.split)}': ${report.listed} listed, ${report.images} images, ${sizes}`);
  const width = Math.max(5, ...report.classes.map((c) => c.name.length));
  lines.push(`${'class'.padEnd(width)}  ${'pixels'.padStart(12)}  ${'images'.padStart(7)}`);
  for (const c of report.classes) lines.push(`${c.name.padEnd(width)}  ${String(c.pixels).padStart(12)}  ${String(c.images).padStart(7)}`);
  lines.push(`${'void'.padEnd(width)}  ${String(report.void_pixels).padStart(12)}`);
  if (report.problems.length === 0) {
    lines.push('no problems found');
  } else {
    lines.push(`${report.problems.length} problem${report.problems.length === 1 ? '' : 's'}:`);
    for (const p of report.problems) lines.push(`  ${printable(p.id ?? '-')}: ${printable(p.file)}: ${printable(p.problem)}`);
  }
  return lines.join('\n');
}
