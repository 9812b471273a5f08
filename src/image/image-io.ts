/** Images through sharp (libvips): decode any JPEG/PNG to HxWx3 RGB bytes, bilinear resize, JPEG encode. */
import { access } from 'node:fs/promises';
import sharp from 'sharp';
import { SegError } from '../core/errors.js';
import type { RgbImage } from './types.js';
import { requireRegularFileAsync } from '../core/regular-file.js';
import { MAX_IMAGE_PIXELS } from './pixel-limit.js';

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A SegError unless `path` is an existing regular file. */
async function requireImageFile(path: string): Promise<void> {
  try {
    await access(path);
  } catch {
    throw new SegError(`${path}: image file not found`, path);
  }
  await requireRegularFileAsync(path, 'image');
}

/**
 * Decode an image file to HxWx3 RGB bytes. Gray, palette, CMYK and 16-bit inputs become
 * 8-bit sRGB; alpha is dropped; EXIF orientation is ignored (VOC labels follow the stored pixels).
 * Missing, truncated or undecodable files raise a SegError naming the file.
 */
export async function decodeImage(path: string): Promise<RgbImage> {
  await requireImageFile(path);
  try {
    const { data, info } = await sharp(path, { limitInputPixels: MAX_IMAGE_PIXELS })
      .removeAlpha()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels, expected 3`);
    return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  } catch (err) {
    throw decodeError(path, err);
  }
}

function decodeError(path: string, err: unknown): SegError {
  const why = message(err);
  if (/exceeds pixel limit/i.test(why)) {
    return new SegError(
      `${path}: the image has more pixels than seg reads: ${MAX_IMAGE_PIXELS.toLocaleString('en-US')} (16383x16383); resize or tile it`,
      path,
    );
  }
  // libvips words a cut-off file in several ways, and on some threads only as sharp's "Warning
  // treated as error due to failOn setting": one message for all, the same in every command.
  if (/premature end|truncat|unexpected end|corrupt jpeg|failOn/i.test(why)) {
    return new SegError(`${path}: truncated or corrupt image (its data ends early or is damaged); re-create or re-download it`, path);
  }
  return new SegError(`${path}: cannot decode image (${why.split('\n')[0]?.trim()}); re-create or re-download it`, path);
}

/** The stored width and height of an image file, read from its header (nothing is decoded). */
export async function readImageSize(path: string): Promise<{ width: number; height: number }> {
  await requireImageFile(path);
  try {
    const meta = await sharp(path, { limitInputPixels: MAX_IMAGE_PIXELS }).metadata();
    if (meta.width === undefined || meta.height === undefined) throw new Error('no size in the header');
    return { width: meta.width, height: meta.height };
  } catch (err) {
    throw decodeError(path, err);
  }
}

/** Bilinear resize of an RGB image (libvips, off the main thread). */
export async function resizeRgb(image: RgbImage, width: number, height: number): Promise<RgbImage> {
  if (width === image.width && height === image.height) return image;
  const data = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(width, height, { kernel: 'linear', fit: 'fill' })
    .raw()
    .toBuffer();
  return { width, height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/** A window of an image, in pixels. */
export interface Region {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * The `region` of the image bilinearly resized to `width`x`height`, computing only that
 * region (libvips evaluates on demand): a random crop of a 2x upscale costs a third of the upscale.
 */
export async function resizeRgbRegion(image: RgbImage, width: number, height: number, region: Region): Promise<RgbImage> {
  const whole = region.left === 0 && region.top === 0 && region.width === width && region.height === height;
  if (whole && width === image.width && height === image.height) return image;
  let pipeline = sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } });
  if (width !== image.width || height !== image.height) pipeline = pipeline.resize(width, height, { kernel: 'linear', fit: 'fill' });
  const data = await pipeline.extract(region).raw().toBuffer();
  return { width: region.width, height: region.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/** Encode RGB bytes as JPEG file contents. */
export async function encodeJpeg(image: RgbImage, quality = 90): Promise<Buffer> {
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .jpeg({ quality })
    .toBuffer();
}

/** Encode RGB bytes as a JPEG file. */
export async function writeJpeg(path: string, image: RgbImage, quality = 90): Promise<void> {
  await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .jpeg({ quality })
    .toFile(path);
}
