/**
 * Predict masks for image files: every jpg/jpeg/png/webp among the inputs (folders walked)
 * becomes `<output>/<name>.png`, a VOC-palette mask at the image's own size, and with
 * `overlay` a blended `<name>_overlay.jpg`. Non-images are skipped with a note; an unreadable
 * image is reported and the rest still processed; an input file is never overwritten.
 */
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { SegError } from '../core/errors.js';
import type { Head } from '../heads/head.js';
import { vocColormap } from '../voc/colormap.js';
import { decodeImage, writeJpeg } from '../voc/image-io.js';
import { writeLabelPng } from '../voc/label-png.js';
import { normalizeImage, type Normalization } from '../voc/normalize.js';
import { predictMask, type PredictOptions } from './inference.js';
import type { InferenceEngine } from './engine.js';
import type { SegmentationModel } from '../segmentation/model.js';

export const IMAGE_EXTENSIONS: readonly string[] = ['.jpg', '.jpeg', '.png', '.webp'];

export interface PredictFilesOptions extends PredictOptions {
  inputs: readonly string[];
  output: string;
  overlay?: boolean;
  /** Overlay opacity of the mask colours (default 0.5). */
  alpha?: number;
  normalization: Normalization;
  log?: (line: string) => void;
  onProgress?: (done: number, total: number) => void;
  /** Predict only the images this accepts; the others still count as inputs (never overwritten) and keep their mask names. */
  include?: (file: string) => boolean;
  /** Called after each predicted image with the files written for it, or its error. */
  onImage?: (file: string, outcome: { written: string[] } | { error: string }) => void;
}

export interface PredictFilesResult {
  written: string[];
  skipped: string[];
  failed: { file: string; error: string }[];
}

function isImageFile(path: string): boolean {
  return IMAGE_EXTENSIONS.includes(extname(path).toLowerCase());
}

/** Expand folders (recursively, sorted) into files; report inputs that do not exist. */
export function collectInputs(inputs: readonly string[]): { images: string[]; skipped: string[] } {
  const images: string[] = [];
  const skipped: string[] = [];
  const walk = (path: string): void => {
    const st = statSync(path);
    if (st.isDirectory()) {
      for (const entry of readdirSync(path).sort()) walk(join(path, entry));
    } else if (isImageFile(path)) {
      images.push(path);
    } else {
      skipped.push(path);
    }
  };
  for (const input of inputs) {
    if (!existsSync(input)) throw new SegError(`--input ${input}: no such file or folder`, '--input');
    walk(input);
  }
  return { images, skipped };
}

/** Blend the palette colours of `mask` over `rgb`. */
export function overlayMask(rgb: Uint8Array, mask: Uint8Array, alpha: number): Uint8Array {
  const palette = vocColormap();
  const out = new Uint8Array(rgb.length);
  for (let i = 0; i < mask.length; i++) {
    const c = mask[i] as number;
    const a = c === 0 ? 0 : alpha; // background stays as it is
    for (let ch = 0; ch < 3; ch++) {
      out[3 * i + ch] = Math.round((1 - a) * (rgb[3 * i + ch] as number) + a * (palette[3 * c + ch] as number));
    }
  }
  return out;
}

export async function predictFiles(model: SegmentationModel | InferenceEngine, head: Head, options: PredictFilesOptions): Promise<PredictFilesResult> {
  const log = options.log ?? (() => undefined);
  const { images, skipped } = collectInputs(options.inputs);
  for (const s of skipped) log(`skipped ${s}: not an image (${IMAGE_EXTENSIONS.join(', ')})`);
  mkdirSync(options.output, { recursive: true });
  const inputSet = new Set(images.map((p) => resolve(p)));
  const names = new Map<string, string>();
  const result: PredictFilesResult = { written: [], skipped, failed: [] };
  let done = 0;
  for (const file of images) {
    const stem = basename(file, extname(file));
    const clash = names.get(stem);
    if (options.include?.(file) === false) {
      if (clash === undefined) names.set(stem, file);
      continue;
    }
    let outcome: { written: string[] } | { error: string };
    try {
      if (clash !== undefined) throw new SegError(`${file}: its mask name ${stem}.png is already taken by ${clash}; rename one of them`, file);
      names.set(stem, file);
      const maskPath = join(options.output, `${stem}.png`);
      const overlayPath = join(options.output, `${stem}_overlay.jpg`);
      for (const target of options.overlay === true ? [maskPath, overlayPath] : [maskPath]) {
        if (inputSet.has(resolve(target))) throw new SegError(`${target}: is one of the inputs; choose another --output so inputs are never overwritten`, '--output');
      }
      const image = await decodeImage(file);
      const mask = await predictMask(model, head, normalizeImage(image.data, options.normalization), image.height, image.width, options);
      writeLabelPng(maskPath, { width: image.width, height: image.height, data: mask });
      result.written.push(maskPath);
      if (options.overlay === true) {
        await writeJpeg(overlayPath, { width: image.width, height: image.height, data: overlayMask(image.data, mask, options.alpha ?? 0.5) });
        result.written.push(overlayPath);
      }
      outcome = { written: options.overlay === true ? [maskPath, overlayPath] : [maskPath] };
    } catch (err) {
      if (!(err instanceof SegError)) throw err;
      result.failed.push({ file, error: err.message });
      log(`failed ${err.message}`);
      outcome = { error: err.message };
    }
    options.onImage?.(file, outcome);
    done += 1;
    options.onProgress?.(done, images.length);
  }
  return result;
}
