/** Test helpers: temp folders and tiny VOC-layout datasets written by the tests themselves. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { writeLabelPng } from '../../src/image/label-png.js';
import { encodePngChunk, PNG_SIGNATURE } from '../../src/image/png-chunks.js';
import type { LabelImage, RgbImage } from '../../src/image/types.js';

const made: string[] = [];

export function tempDir(prefix = 'seg-voc-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** A deterministic RGB gradient image. */
export function gradientImage(width: number, height: number, shift = 0): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      data[i] = (x * 7 + shift) & 0xff;
      data[i + 1] = (y * 11 + shift) & 0xff;
      data[i + 2] = (x * y + shift) & 0xff;
    }
  }
  return { width, height, data };
}

export async function writeJpegFile(path: string, image: RgbImage): Promise<void> {
  await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .jpeg({ quality: 95 })
    .toFile(path);
}

export interface FixtureSample {
  id: string;
  image: RgbImage;
  label: LabelImage;
}

/** A VOC-layout dataset under `root`: JPEGImages, SegmentationClass, ImageSets/Segmentation lists, optional classes.txt. */
export async function writeVocFixture(
  root: string,
  samples: readonly FixtureSample[],
  splits: Record<string, readonly string[]>,
  classes?: readonly string[],
): Promise<string> {
  for (const dir of ['JPEGImages', 'SegmentationClass', 'ImageSets/Segmentation']) mkdirSync(join(root, dir), { recursive: true });
  for (const s of samples) {
    await writeJpegFile(join(root, 'JPEGImages', `${s.id}.jpg`), s.image);
    writeLabelPng(join(root, 'SegmentationClass', `${s.id}.png`), s.label);
  }
  for (const [split, ids] of Object.entries(splits))
    writeFileSync(join(root, 'ImageSets/Segmentation', `${split}.txt`), ids.map((id) => `${id}\n`).join(''));
  if (classes !== undefined) writeFileSync(join(root, 'classes.txt'), `${classes.join('\n')}\n`);
  return root;
}

/** A label with a few rectangles of classes 1..K-1 and a 255 line, on background 0. */
export function blockLabel(width: number, height: number, classes: number, seed = 0): LabelImage {
  const data = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const block = (Math.floor(x / 8) + Math.floor(y / 8) + seed) % (classes + 1);
      data[y * width + x] = block === classes ? 0 : block;
    }
  }
  for (let x = 0; x < width; x++) data[Math.floor(height / 2) * width + x] = 255;
  return { width, height, data };
}

/** A PNG of IHDR (8-bit, `colorType`), an optional PLTE, one IDAT of `idat` as given, and IEND. */
export function pngOfChunks(width: number, height: number, colorType: number, idat: Uint8Array, palette?: Uint8Array): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = colorType;
  return Buffer.concat([
    Buffer.from(PNG_SIGNATURE),
    encodePngChunk('IHDR', ihdr),
    ...(palette !== undefined ? [encodePngChunk('PLTE', palette)] : []),
    encodePngChunk('IDAT', idat),
    encodePngChunk('IEND', new Uint8Array(0)),
  ]);
}
