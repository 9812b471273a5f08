/**
 * Predict masks for image files: every jpg/jpeg/png/webp among the inputs (folders walked)
 * becomes a VOC-palette mask `<name>.png` at the image's own size, and with `overlay` a
 * blended `<name>_overlay.jpg`; output paths, and how inputs are protected, are described in
 * predict-paths.ts. Non-images are skipped with a note; an unreadable image, or one whose
 * inference fails (out of memory included), is reported and the rest still processed.
 */
import { SegError, isUserError } from '../core/errors.js';
import { isMemoryFailure } from '../core/memory-failure.js';
import { backendStillWorks } from '../engine/backend-health.js';
import { printable } from '../core/printable.js';
import type { Head } from '../heads/head.js';
import { vocColormap } from '../image/colormap.js';
import { decodeImage, encodeJpeg } from '../image/image-io.js';
import { encodeLabelPng } from '../image/label-png.js';
import { normalizeImage, type Normalization } from '../data-loading/normalize.js';
import { predictMask, type PredictOptions } from './inference.js';
import { FixedSizeError, type InferenceEngine } from './engines/engine.js';
import {
  IMAGE_EXTENSIONS,
  planPredictOutputs,
  prepareTarget,
  refuseForeignTargets,
  writeReplacing,
  type PredictPlan,
} from './predict-paths.js';
import { markMaskPng, markOverlayJpeg } from './predict-marker.js';

export { IMAGE_EXTENSIONS };

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
  /** The plan of planPredictOutputs(inputs, output), when the caller made it already. */
  plan?: PredictPlan;
  /** Sliding windows of each image: (file, windows done, windows of the image). */
  windowProgress?: (file: string, done: number, total: number) => void;
}

export interface PredictFilesResult {
  written: string[];
  skipped: string[];
  failed: { file: string; error: string }[];
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

export async function predictFiles(engine: InferenceEngine, head: Head, options: PredictFilesOptions): Promise<PredictFilesResult> {
  const log = options.log ?? (() => undefined);
  const plan = options.plan ?? planPredictOutputs(options.inputs, options.output);
  refuseForeignTargets(plan, { overlay: options.overlay === true });
  for (const s of plan.skipped) log(`skipped ${printable(s)}: not an image (${IMAGE_EXTENSIONS.join(', ')})`);
  for (const e of plan.excluded) log(`skipped ${printable(e.file)}: ${printable(e.problem)}`);
  const result: PredictFilesResult = { written: [], skipped: [...plan.skipped, ...plan.excluded.map((e) => e.file)], failed: [] };
  for (const p of plan.problems) {
    result.failed.push({ file: p.file, error: `${p.file}: ${p.problem}` });
    log(`failed ${printable(p.file)}: ${printable(p.problem)}`);
  }
  let done = 0;
  // From the start: the progress line's clock then counts every image.
  options.onProgress?.(0, plan.images.length);
  let engineLost: string | undefined;
  for (const { file, mask: maskPath, overlay: overlayPath } of plan.images) {
    // Images the caller leaves out keep their planned mask names (so names never depend on the selection).
    if (options.include?.(file) === false) continue;
    let outcome: { written: string[] } | { error: string };
    let imageSize: { width: number; height: number } | undefined;
    try {
      if (engineLost !== undefined) throw new SegError(`${file}: not processed: ${engineLost}`, file);
      const targets = options.overlay === true ? [maskPath, overlayPath] : [maskPath];
      for (const target of targets) prepareTarget(target, plan);
      const image = await decodeImage(file);
      imageSize = image;
      const mask = await predictMask(engine, head, normalizeImage(image.data, options.normalization), image.height, image.width, {
        ...options,
        onWindow: (d, t) => options.windowProgress?.(file, d, t),
      });
      writeReplacing(maskPath, markMaskPng(encodeLabelPng({ width: image.width, height: image.height, data: mask })));
      result.written.push(maskPath);
      if (options.overlay === true) {
        const overlay = { width: image.width, height: image.height, data: overlayMask(image.data, mask, options.alpha ?? 0.5) };
        writeReplacing(overlayPath, markOverlayJpeg(await encodeJpeg(overlay)));
        result.written.push(overlayPath);
      }
      outcome = { written: options.overlay === true ? [maskPath, overlayPath] : [maskPath] };
    } catch (err) {
      // The model cannot take this size: every other image of another size would fail alike.
      if (err instanceof FixedSizeError) throw err.forImage(file, imageSize?.width ?? 0, imageSize?.height ?? 0);
      if (!isUserError(err) && !isMemoryFailure(err) && !isFileSystemError(err)) throw err;
      let message = err instanceof SegError ? err.message : `${file}: ${err instanceof Error ? err.message : String(err)}`;
      if (isMemoryFailure(err)) {
        message = `${file}: out of engine memory (${firstLine(err)}); try --mode slide or a smaller --window`;
        if (!backendStillWorks()) engineLost = `the engine aborted on ${file} and cannot go on; run the remaining images again`;
      }
      result.failed.push({ file, error: message });
      log(`failed ${printable(message)}`);
      outcome = { error: message };
    }
    options.onImage?.(file, outcome);
    done += 1;
    options.onProgress?.(done, plan.images.length);
  }
  return result;
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
}

function isFileSystemError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' && /^E[A-Z]+$/.test(code);
}
