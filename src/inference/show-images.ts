/**
 * Pictures of a segmentation, as mmsegmentation's SegLocalVisualizer draws them for
 * `tools/test.py --show-dir`: every pixel blended as `alpha * colour + (1 - alpha) * image`
 * (alpha 0.8, mmseg's default) with the class's VOC palette colour, ground truth on the left
 * and prediction on the right. Void pixels (255) take the VOC palette's void colour.
 * `seg eval --show-dir` writes one `<id>.png` per image into a folder it owns.
 */
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { SegError } from '../core/errors.js';
import { vocColormap } from '../image/colormap.js';

/** mmseg's SegLocalVisualizer alpha. */
export const SHOW_ALPHA = 0.8;

/** Marks a folder as written by seg: only such a folder (or an empty or new one) is written into. */
export const SHOW_DIR_MARKER = '.seg-show-dir';

/** Every pixel of `rgb` blended with the palette colour (the dataset's; VOC's by default) of its class in `classes`. */
export function blendSegmentation(
  rgb: Uint8Array,
  classes: Uint8Array,
  alpha = SHOW_ALPHA,
  palette: Uint8Array = vocColormap(),
): Uint8Array {
  const out = new Uint8Array(rgb.length);
  for (let i = 0; i < classes.length; i++) {
    const c = classes[i] as number;
    for (let ch = 0; ch < 3; ch++) {
      out[3 * i + ch] = Math.round(alpha * (palette[3 * c + ch] as number) + (1 - alpha) * (rgb[3 * i + ch] as number));
    }
  }
  return out;
}

/** Images of the same size placed left to right. */
export function sideBySide(images: readonly Uint8Array[], width: number, height: number): Uint8Array {
  const out = new Uint8Array(images.length * width * height * 3);
  const row = width * 3;
  for (let y = 0; y < height; y++) {
    images.forEach((img, k) => {
      out.set(img.subarray(y * row, (y + 1) * row), (y * images.length + k) * row);
    });
  }
  return out;
}

export async function encodePng(rgb: Uint8Array, width: number, height: number): Promise<Buffer> {
  return sharp(Buffer.from(rgb.buffer, rgb.byteOffset, rgb.byteLength), { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
}

/** Ground truth | prediction, each blended over the image: mmseg's show-dir picture. */
export async function showImagePng(
  rgb: Uint8Array,
  label: Uint8Array,
  prediction: Uint8Array,
  width: number,
  height: number,
  palette: Uint8Array = vocColormap(),
): Promise<Buffer> {
  const panels = [blendSegmentation(rgb, label, SHOW_ALPHA, palette), blendSegmentation(rgb, prediction, SHOW_ALPHA, palette)];
  return encodePng(sideBySide(panels, width, height), 2 * width, height);
}

/** Make (or reuse) a --show-dir folder; one with files seg did not write there is refused. */
export function prepareShowDir(dir: string): void {
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new SegError(`--show-dir ${dir}: exists and is not a folder`, '--show-dir');
    const entries = readdirSync(dir);
    if (entries.length > 0 && !entries.includes(SHOW_DIR_MARKER)) {
      throw new SegError(
        `--show-dir ${dir}: the folder holds files seg did not write (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', ...' : ''}); choose an empty or new folder`,
        '--show-dir',
      );
    }
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, SHOW_DIR_MARKER), 'written by seg eval --show-dir\n');
}

/** `<dir>/<id>.png` (path separators in the id become `_`, so every file stays inside `dir`). */
export async function writeShowImage(
  dir: string,
  id: string,
  picture: { rgb: Uint8Array; label: Uint8Array; prediction: Uint8Array; width: number; height: number; palette?: Uint8Array },
): Promise<string> {
  const file = join(dir, `${id.replace(/[\\/]/g, '_')}.png`);
  writeFileSync(file, await showImagePng(picture.rgb, picture.label, picture.prediction, picture.width, picture.height, picture.palette));
  return file;
}
