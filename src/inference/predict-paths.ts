/**
 * Where `seg predict` reads and writes, decided before any image is processed, so that an
 * input is never touched:
 * - paths are compared as real paths (symlinks resolved);
 * - an output folder that is, or lies inside, an input folder is refused, and so is an input
 *   folder that lies inside the output folder (listed files may share a folder with the output);
 * - walking an input folder skips the output folder (and says so), follows a symlinked folder
 *   once (loops are cut) and reports dangling links, loops and unreadable entries as one line each;
 * - a mask or overlay never replaces an existing entry that is not a file seg predict wrote
 *   (predict-marker.ts): such a target is refused before the first image, naming it;
 * - masks mirror each input folder's subfolders: `in/sub/photo.jpg` -> `out/sub/photo.png`;
 *   listed files go to the top of the output folder;
 * - images that would get the same mask name (`photo.jpg` and `photo.png` in one folder, or
 *   the same relative path under two inputs) keep their extension in it (`photo.jpg.png`,
 *   `photo.png.png`); if that still clashes, `~2`, `~3`... follow in input order;
 * - files are written to a fresh temporary file and renamed over the target, so an existing
 *   symlink at the target is replaced, never written through.
 */
import {
  closeSync,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  type Stats,
  writeSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, extname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { SegError } from '../core/errors.js';
import { foreignFileReason } from './predict-marker.js';
import { makeFolder } from '../core/folders.js';

export const IMAGE_EXTENSIONS: readonly string[] = ['.jpg', '.jpeg', '.png', '.webp'];

export interface PlannedImage {
  /** The input file as found (listed or walked). */
  file: string;
  /** Mask path: `<output>/<subfolders>/<name>.png`. */
  mask: string;
  /** Overlay path beside the mask: `<name>_overlay.jpg`. */
  overlay: string;
}

export interface PathProblem {
  file: string;
  problem: string;
}

export interface PredictPlan {
  images: PlannedImage[];
  /** Files that are not images. */
  skipped: string[];
  /** Entries that could not be read (dangling symlink, loop, permission), one line each. */
  problems: PathProblem[];
  /** Entries skipped with a reason: folders inside the output folder (seg's own masks), FIFOs, devices. */
  excluded: PathProblem[];
  /** Real paths of every input image (a write that would land on one is refused). */
  inputRealPaths: Set<string>;
  /** Real path of the output folder (created by the plan). */
  outputReal: string;
}

function isImageFile(path: string): boolean {
  return IMAGE_EXTENSIONS.includes(extname(path).toLowerCase());
}

function isInside(child: string, parent: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel) && rel.split(sep)[0] !== '..');
}

function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'dangling symlink (its target does not exist)';
  if (code === 'ELOOP') return 'symlink loop';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  return err instanceof Error ? err.message : String(err);
}

/** The real path of `path`, or of its deepest existing ancestor joined with the rest. */
function realPathOfMaybeMissing(path: string): string {
  const abs = resolve(path);
  let existing = abs;
  const rest: string[] = [];
  while (!existsSync(existing)) {
    const parent = dirname(existing);
    if (parent === existing) break;
    rest.unshift(basename(existing));
    existing = parent;
  }
  return join(realpathSync(existing), ...rest);
}

/** Checks `--output` and creates it; returns its real path. */
function prepareOutput(output: string): string {
  let st: Stats | undefined;
  try {
    st = statSync(output);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // ENOTDIR: a file in the way, said when the folder is made (makeFolder).
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new SegError(`--output ${output}: ${describeFsError(err)}`, '--output');
    let isLink = false;
    try {
      isLink = lstatSync(output).isSymbolicLink();
    } catch {
      // nothing there at all
    }
    if (isLink) throw new SegError(`--output ${output}: dangling symlink; remove it or choose another --output`, '--output');
  }
  if (st !== undefined && !st.isDirectory()) {
    throw new SegError(`--output ${output}: is an existing file, not a folder; choose a folder for the masks`, '--output');
  }
  return realPathOfMaybeMissing(output);
}

/**
 * Walk the inputs and plan every output path (see the module comment). Throws a SegError
 * for a missing listed input, an output that is a file, or an output inside an input folder.
 */
export function planPredictOutputs(inputs: readonly string[], output: string): PredictPlan {
  const outputReal = prepareOutput(output);
  const roots: { input: string; real: string; isDir: boolean }[] = [];
  for (const input of inputs) {
    let real: string;
    try {
      real = realpathSync(input);
    } catch (err) {
      let exists = false;
      try {
        lstatSync(input);
        exists = true;
      } catch {
        // no entry at all
      }
      throw new SegError(`--input ${input}: ${exists ? describeFsError(err) : 'no such file or folder'}`, '--input');
    }
    const isDir = statSync(real).isDirectory();
    if (isDir && isInside(outputReal, real)) {
      throw new SegError(
        `--output ${output} ${outputReal === real ? 'is' : 'lies inside'} the input folder ${input}; ` +
          'choose an output folder outside it (or list the input files instead of the folder)',
        '--output',
      );
    }
    // The walk skips folders inside the output (seg's masks): here that would be every folder of the input.
    if (isDir && isInside(real, outputReal)) {
      throw new SegError(
        `--input ${input} lies inside --output ${output}; masks would be written among the inputs' folders: ` +
          'choose an output folder outside the input folders (or list the input files instead of the folder)',
        '--input',
      );
    }
    roots.push({ input, real, isDir });
  }
  const found: { file: string; real: string; rel: string }[] = [];
  const skipped: string[] = [];
  const problems: PathProblem[] = [];
  const excluded: PathProblem[] = [];
  const walked = new Set<string>();
  for (const root of roots) {
    if (!root.isDir) {
      if (isImageFile(root.input)) found.push({ file: root.input, real: root.real, rel: basename(root.input) });
      else skipped.push(root.input);
      continue;
    }
    // A folder walked already (given twice, or through a symlink) is not walked again.
    if (walked.has(root.real)) continue;
    walked.add(root.real);
    const visited = new Set<string>([root.real]);
    const walk = (dir: string, rel: string): void => {
      let entries: string[];
      try {
        entries = readdirSync(dir).sort();
      } catch (err) {
        problems.push({ file: dir, problem: describeFsError(err) });
        return;
      }
      for (const name of entries) {
        const path = join(dir, name);
        const relPath = rel === '' ? name : join(rel, name);
        let real: string;
        let st: Stats;
        try {
          real = realpathSync(path);
          st = statSync(real);
        } catch (err) {
          problems.push({ file: path, problem: describeFsError(err) });
          continue;
        }
        if (st.isDirectory()) {
          if (isInside(real, outputReal)) {
            excluded.push({ file: path, problem: `inside --output ${output} (seg's masks are never inputs)` });
            continue;
          }
          if (visited.has(real)) {
            problems.push({ file: path, problem: 'symlink loop (a folder already walked); skipped' });
            continue;
          }
          if (walked.has(real)) continue; // another input's folder: its images are found there
          visited.add(real);
          walked.add(real);
          walk(path, relPath);
        } else if (!st.isFile()) {
          excluded.push({ file: path, problem: 'not a regular file (FIFO, device or socket)' });
        } else if (isImageFile(name)) {
          found.push({ file: path, real, rel: relPath });
        } else {
          skipped.push(path);
        }
      }
    };
    walk(root.input, '');
  }
  // A file reached twice (the same folder given twice, a symlink to it, a listed file inside a listed folder) is predicted once.
  const seenReal = new Set<string>();
  const unique: typeof found = [];
  for (const f of found) {
    if (!seenReal.has(f.real)) unique.push(f);
    seenReal.add(f.real);
  }
  if (unique.length === 0) {
    const others = [
      ...(skipped.length + excluded.length > 0 ? [`${skipped.length + excluded.length} other entries skipped`] : []),
      ...(problems.length > 0 ? [`${problems.length} unreadable`] : []),
    ];
    throw new SegError(
      `--input: no image found (${IMAGE_EXTENSIONS.join(', ')}) in ${inputs.join(', ')}${others.length > 0 ? ` (${others.join(', ')})` : ''}; ` +
        'pass image files or folders that hold some',
      '--input',
    );
  }
  // Once, before the first image: an output that cannot be made is one error, not one per image.
  makeFolder(output, '--output');
  return {
    images: assignNames(unique, output),
    skipped,
    problems,
    excluded,
    inputRealPaths: seenReal,
    outputReal,
  };
}

/** Mask and overlay paths, unique as the module comment describes. */
function assignNames(found: readonly { file: string; rel: string }[], output: string): PlannedImage[] {
  const key = (rel: string): string => join(dirname(rel), basename(rel, extname(rel)));
  const byKey = new Map<string, number>();
  for (const f of found) byKey.set(key(f.rel), (byKey.get(key(f.rel)) ?? 0) + 1);
  const taken = new Set<string>();
  return found.map((f) => {
    let name = (byKey.get(key(f.rel)) ?? 0) > 1 ? f.rel : key(f.rel);
    for (let n = 2; taken.has(name); n++) name = `${(byKey.get(key(f.rel)) ?? 0) > 1 ? f.rel : key(f.rel)}~${n}`;
    taken.add(name);
    return { file: f.file, mask: join(output, `${name}.png`), overlay: join(output, `${name}_overlay.jpg`) };
  });
}

/** Why `target` must not be written (an input, or an existing entry seg predict did not write), or undefined. */
function targetRefusal(target: string, plan: PredictPlan): string | undefined {
  let resolved = resolve(target);
  try {
    resolved = join(realpathSync(dirname(target)), basename(target));
  } catch {
    // the folder does not exist yet: nothing is there
  }
  let through = resolved;
  try {
    through = realpathSync(resolved);
  } catch {
    // no file, or a dangling link
  }
  if (plan.inputRealPaths.has(resolved) || plan.inputRealPaths.has(through)) return 'it is one of the inputs';
  return foreignFileReason(target);
}

function refusal(target: string, reason: string, image: string | undefined): SegError {
  return new SegError(
    `${target}: already exists and is not a mask seg wrote (${reason})` +
      `${image !== undefined ? `; the mask of ${image} would replace it` : ''}; move it or choose another --output`,
    target,
  );
}

/**
 * Refuse the plan when any mask (or overlay) path holds an input or an entry that seg
 * predict did not write: checked for every planned image before the first is predicted.
 */
export function refuseForeignTargets(plan: PredictPlan, options: { overlay: boolean }): void {
  for (const image of plan.images) {
    for (const target of options.overlay ? [image.mask, image.overlay] : [image.mask]) {
      const reason = targetRefusal(target, plan);
      if (reason !== undefined) throw refusal(target, reason, image.file);
    }
  }
}

/**
 * Create the folder of `target` and check that the file would land inside the output folder,
 * on no input and on no entry seg predict did not write; throws a SegError naming the target otherwise.
 */
export function prepareTarget(target: string, plan: PredictPlan): void {
  const dir = dirname(target);
  mkdirSync(dir, { recursive: true });
  const realDir = realpathSync(dir);
  if (!isInside(realDir, plan.outputReal)) {
    throw new SegError(
      `${target}: its folder resolves to ${realDir}, outside --output ${plan.outputReal} (a symlink?); nothing written`,
      target,
    );
  }
  const reason = targetRefusal(target, plan);
  if (reason !== undefined) throw refusal(target, reason, undefined);
}

/** Write `bytes` to a fresh temporary file beside `target`, then rename it over `target`. */
export function writeReplacing(target: string, bytes: Uint8Array): void {
  const tmp = temporaryPath(target);
  const fd = openSync(tmp, 'wx');
  try {
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(tmp, target);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** A fresh temporary name beside `target` (created exclusively by the writer: no link is followed). */
export function temporaryPath(target: string): string {
  return join(dirname(target), `.${basename(target)}.${process.pid}-${randomBytes(6).toString('hex')}.tmp`);
}
