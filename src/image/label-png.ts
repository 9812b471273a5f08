/**
 * Label PNGs read and written as class indices, never as colours. Palette PNGs give the
 * palette index whatever the palette's colours; grayscale PNGs give the gray value. A small
 * codec over node:zlib: sharp rewrites palettes and pngjs expands them to RGBA.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { deflateSync, inflate, inflateSync } from 'node:zlib';
import { SegError } from '../core/errors.js';
import { vocColormap } from './colormap.js';
import { encodePngChunk, PNG_SIGNATURE, readPngChunks } from './png-chunks.js';
import { describePixelLimit, MAX_IMAGE_PIXELS } from './pixel-limit.js';
import { requireRegularFile, requireRegularFileAsync } from '../core/regular-file.js';
import type { LabelImage } from './types.js';

const inflateAsync = promisify(inflate);

const COLOR_TYPE_GRAY = 0;
const COLOR_TYPE_PALETTE = 3;

interface PngHeader {
  width: number;
  height: number;
  bitDepth: number;
  colorType: number;
}

interface ParsedLabelPng {
  header: PngHeader;
  compressed: Buffer;
}

function describeColorType(colorType: number): string {
  switch (colorType) {
    case 2:
      return 'RGB';
    case 4:
      return 'grayscale with alpha';
    case 6:
      return 'RGBA';
    default:
      return `colour type ${colorType}`;
  }
}

function parseHeader(data: Uint8Array, file: string): PngHeader {
  if (data.length !== 13) throw new SegError(`${file}: corrupt PNG (IHDR chunk has ${data.length} bytes, expected 13)`, file);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const header: PngHeader = {
    width: view.getUint32(0),
    height: view.getUint32(4),
    bitDepth: data[8] as number,
    colorType: data[9] as number,
  };
  const compression = data[10] as number;
  const filter = data[11] as number;
  const interlace = data[12] as number;
  if (header.width === 0 || header.height === 0)
    throw new SegError(`${file}: corrupt PNG (image size ${header.width}x${header.height})`, file);
  // Before anything is inflated: a small file may declare a huge image (a decompression bomb).
  if (header.width * header.height > MAX_IMAGE_PIXELS) {
    throw new SegError(`${file}: ${describePixelLimit('label PNG', header.width, header.height)}; re-create it`, file);
  }
  if (compression !== 0 || filter !== 0) throw new SegError(`${file}: corrupt PNG (unknown compression/filter method)`, file);
  if (header.colorType !== COLOR_TYPE_GRAY && header.colorType !== COLOR_TYPE_PALETTE) {
    throw new SegError(
      `${file}: label PNG is ${describeColorType(header.colorType)}; labels must hold class indices ` +
        `(an 8-bit palette or grayscale PNG): colours cannot be mapped back to classes exactly. ` +
        `Save the label as a palette ('P' mode) or grayscale ('L' mode) PNG`,
      file,
    );
  }
  if (![1, 2, 4, 8].includes(header.bitDepth)) {
    throw new SegError(
      `${file}: label PNG has ${header.bitDepth}-bit samples; class indices must be 8-bit (or fewer) palette or grayscale values`,
      file,
    );
  }
  if (interlace !== 0) {
    throw new SegError(`${file}: label PNG is Adam7-interlaced, which seg does not read; re-save it without interlacing`, file);
  }
  return header;
}

/** Bytes the image data inflates to: one filter byte plus the packed samples per row. */
function expectedRawSize(header: PngHeader): number {
  return header.height * (Math.ceil((header.width * header.bitDepth) / 8) + 1);
}

/**
 * zlib options: the expected size as chunk size, so it inflates in one pass (several times
 * cheaper async), and as the cap on the output, so a decompression bomb stops there.
 */
function inflateOptions(header: PngHeader): { chunkSize: number; maxOutputLength: number } {
  const expected = expectedRawSize(header);
  return { chunkSize: Math.max(1024, expected), maxOutputLength: expected };
}

const HEADER_BYTES = 8 + 8 + 13;

/** The declared size of a label PNG, from its first bytes (signature and IHDR; nothing is inflated). */
export async function readLabelPngSize(path: string): Promise<{ width: number; height: number }> {
  await requireRegularFileAsync(path, 'label');
  let bytes: Buffer;
  try {
    const handle = await open(path, 'r');
    try {
      const buf = Buffer.alloc(HEADER_BYTES);
      const { bytesRead } = await handle.read(buf, 0, HEADER_BYTES, 0);
      bytes = buf.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw missing(path);
    throw new SegError(`${path}: cannot read label file (${err instanceof Error ? err.message : String(err)})`, path);
  }
  if (bytes.length < 8 || PNG_SIGNATURE.some((b, i) => bytes[i] !== b)) {
    throw new SegError(`${path}: not a PNG file (bad signature); label files must be PNGs`, path);
  }
  if (bytes.length < HEADER_BYTES || bytes.subarray(12, 16).toString('latin1') !== 'IHDR') {
    throw new SegError(`${path}: corrupt PNG (the first chunk is not IHDR)`, path);
  }
  const header = parseHeader(bytes.subarray(16, HEADER_BYTES), path);
  return { width: header.width, height: header.height };
}

function parse(bytes: Uint8Array, file: string): ParsedLabelPng {
  const chunks = readPngChunks(bytes, file);
  const first = chunks[0];
  if (first === undefined || first.type !== 'IHDR') throw new SegError(`${file}: corrupt PNG (the first chunk is not IHDR)`, file);
  const header = parseHeader(first.data, file);
  const idat = chunks.filter((c) => c.type === 'IDAT').map((c) => c.data);
  if (idat.length === 0) throw new SegError(`${file}: corrupt PNG (no image data: no IDAT chunk)`, file);
  return { header, compressed: Buffer.concat(idat) };
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Undo the per-row filters (one byte per pixel step: every label format here has bpp <= 1 byte) and unpack samples. */
function unfilter(header: PngHeader, raw: Uint8Array, file: string): LabelImage {
  const { width, height, bitDepth } = header;
  const rowBytes = Math.ceil((width * bitDepth) / 8);
  const expected = height * (rowBytes + 1);
  if (raw.length < expected) {
    throw new SegError(`${file}: truncated PNG (image data holds ${raw.length} of ${expected} bytes); re-create or re-download it`, file);
  }
  const rows = new Uint8Array(height * rowBytes);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (rowBytes + 1)] as number;
    const src = y * (rowBytes + 1) + 1;
    const dst = y * rowBytes;
    const up = dst - rowBytes;
    // The filter is per row: switch once per row, not per byte (this is the label hot loop).
    if (filter === 0 || (filter === 2 && y === 0)) {
      rows.set(raw.subarray(src, src + rowBytes), dst);
    } else if (filter === 1) {
      let a = 0;
      for (let x = 0; x < rowBytes; x++) a = rows[dst + x] = ((raw[src + x] as number) + a) & 0xff;
    } else if (filter === 2) {
      for (let x = 0; x < rowBytes; x++) rows[dst + x] = ((raw[src + x] as number) + (rows[up + x] as number)) & 0xff;
    } else if (filter === 3) {
      let a = 0;
      for (let x = 0; x < rowBytes; x++) {
        const b = y > 0 ? (rows[up + x] as number) : 0;
        a = rows[dst + x] = ((raw[src + x] as number) + ((a + b) >> 1)) & 0xff;
      }
    } else if (filter === 4) {
      let a = 0;
      let c = 0;
      for (let x = 0; x < rowBytes; x++) {
        const b = y > 0 ? (rows[up + x] as number) : 0;
        a = rows[dst + x] = ((raw[src + x] as number) + paeth(a, b, c)) & 0xff;
        c = b;
      }
    } else {
      throw new SegError(`${file}: corrupt PNG (unknown filter type ${filter} in row ${y})`, file);
    }
  }
  if (bitDepth === 8) return { width, height, data: rows };
  const data = new Uint8Array(width * height);
  const perByte = 8 / bitDepth;
  const mask = (1 << bitDepth) - 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const byte = rows[y * rowBytes + Math.floor(x / perByte)] as number;
      const shift = 8 - bitDepth * ((x % perByte) + 1);
      data[y * width + x] = (byte >> shift) & mask;
    }
  }
  return { width, height, data };
}

function inflateError(file: string, err: unknown, header: PngHeader): SegError {
  const msg = err instanceof Error ? err.message : String(err);
  if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || /larger than|maxOutputLength/i.test(msg)) {
    return new SegError(
      `${file}: corrupt PNG (image data inflates past the ${expectedRawSize(header)} bytes of a ${header.width}x${header.height} image: ` +
        'extra data after the image, or a decompression bomb); re-create it',
      file,
    );
  }
  const truncated = /unexpected end/i.test(msg);
  return new SegError(
    `${file}: ${truncated ? 'truncated' : 'corrupt'} PNG (image data does not decompress: ${msg}); re-create or re-download it`,
    file,
  );
}

/** Decode label PNG bytes to class indices. `file` names the source in error messages. */
export function decodeLabelPng(bytes: Uint8Array, file = '<buffer>'): LabelImage {
  const { header, compressed } = parse(bytes, file);
  let raw: Buffer;
  try {
    raw = inflateSync(compressed, inflateOptions(header));
  } catch (err) {
    throw inflateError(file, err, header);
  }
  return unfilter(header, raw, file);
}

function missing(path: string): SegError {
  return new SegError(`${path}: label file not found`, path);
}

/** Read a label PNG (palette indices or gray values), synchronously. */
export function readLabelPng(path: string): LabelImage {
  if (!existsSync(path)) throw missing(path);
  requireRegularFile(path, 'label');
  return decodeLabelPng(readFileSync(path), path);
}

/** Read a label PNG without blocking: file read and inflate run on libuv's thread pool. */
export async function loadLabelPng(path: string): Promise<LabelImage> {
  let bytes: Buffer;
  try {
    await requireRegularFileAsync(path, 'label');
    bytes = await readFile(path);
  } catch (err) {
    if (err instanceof SegError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw missing(path);
    throw new SegError(`${path}: cannot read label file (${err instanceof Error ? err.message : String(err)})`, path);
  }
  const { header, compressed } = parse(bytes, path);
  let raw: Buffer;
  try {
    raw = await inflateAsync(compressed, inflateOptions(header));
  } catch (err) {
    throw inflateError(path, err, header);
  }
  return unfilter(header, raw, path);
}

/** Encode class indices as an 8-bit palette PNG (default palette: the VOC colormap, 256 entries). */
export function encodeLabelPng(label: LabelImage, palette: Uint8Array = vocColormap()): Buffer {
  if (palette.length % 3 !== 0 || palette.length === 0 || palette.length > 768) {
    throw new Error(`encodeLabelPng: palette of ${palette.length} bytes, expected 3..768, a multiple of 3`);
  }
  return encodeIndices(label, palette);
}

/** Encode class indices as an 8-bit grayscale PNG (the gray value is the class, as SBD's SegmentationClassAug holds them). */
export function encodeGrayLabelPng(label: LabelImage): Buffer {
  return encodeIndices(label, undefined);
}

function encodeIndices(label: LabelImage, palette: Uint8Array | undefined): Buffer {
  const { width, height, data } = label;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0 || data.length !== width * height) {
    throw new Error(`encodeLabelPng: ${width}x${height} label with ${data.length} values`);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = palette === undefined ? COLOR_TYPE_GRAY : COLOR_TYPE_PALETTE;
  const raw = Buffer.alloc(height * (width + 1));
  for (let y = 0; y < height; y++) {
    // Filter type 0 (None) for every row: labels are flat regions that deflate well as is.
    raw.set(data.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  }
  return Buffer.concat([
    Buffer.from(PNG_SIGNATURE),
    encodePngChunk('IHDR', ihdr),
    ...(palette !== undefined ? [encodePngChunk('PLTE', palette)] : []),
    encodePngChunk('IDAT', deflateSync(raw)),
    encodePngChunk('IEND', new Uint8Array(0)),
  ]);
}

/** Write class indices as an 8-bit palette PNG with the VOC colormap. */
export function writeLabelPng(path: string, label: LabelImage, palette?: Uint8Array): void {
  writeFileSync(path, encodeLabelPng(label, palette));
}
