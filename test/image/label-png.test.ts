import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { deflateSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { SegError } from '../../src/core/errors.js';
import { vocColormap } from '../../src/image/colormap.js';
import { decodeLabelPng, encodeLabelPng, loadLabelPng, readLabelPng, writeLabelPng } from '../../src/image/label-png.js';
import { encodePngChunk, PNG_SIGNATURE } from '../../src/image/png-chunks.js';
import { removeTempDirs, tempDir } from '../datasets/fixtures.js';

afterAll(removeTempDirs);

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

interface HandPng {
  width: number;
  height: number;
  bitDepth?: number;
  colorType?: number;
  interlace?: number;
  /** Packed rows (rowBytes each), before filtering. */
  rows: Uint8Array;
  /** Filter type per row (cycled). */
  filters?: number[];
  palette?: Uint8Array;
}

/** A PNG built by hand (the test's own forward filters), to check the decoder against. */
function handPng(spec: HandPng): Buffer {
  const bitDepth = spec.bitDepth ?? 8;
  const colorType = spec.colorType ?? 3;
  const channels = colorType === 2 ? 3 : colorType === 6 ? 4 : colorType === 4 ? 2 : 1;
  const rowBytes = Math.ceil((spec.width * bitDepth * channels) / 8);
  const bpp = Math.max(1, (bitDepth * channels) / 8);
  const filters = spec.filters ?? [0];
  const raw = Buffer.alloc(spec.height * (rowBytes + 1));
  for (let y = 0; y < spec.height; y++) {
    const f = filters[y % filters.length] as number;
    raw[y * (rowBytes + 1)] = f;
    for (let x = 0; x < rowBytes; x++) {
      const cur = spec.rows[y * rowBytes + x] as number;
      const a = x >= bpp ? (spec.rows[y * rowBytes + x - bpp] as number) : 0;
      const b = y > 0 ? (spec.rows[(y - 1) * rowBytes + x] as number) : 0;
      const c = y > 0 && x >= bpp ? (spec.rows[(y - 1) * rowBytes + x - bpp] as number) : 0;
      const pred = f === 0 ? 0 : f === 1 ? a : f === 2 ? b : f === 3 ? Math.floor((a + b) / 2) : paeth(a, b, c);
      raw[y * (rowBytes + 1) + 1 + x] = (cur - pred + 256) & 0xff;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(spec.width, 0);
  ihdr.writeUInt32BE(spec.height, 4);
  ihdr[8] = bitDepth;
  ihdr[9] = colorType;
  ihdr[12] = spec.interlace ?? 0;
  const chunks = [Buffer.from(PNG_SIGNATURE), encodePngChunk('IHDR', ihdr)];
  if (spec.palette !== undefined) chunks.push(encodePngChunk('PLTE', spec.palette));
  chunks.push(encodePngChunk('IDAT', deflateSync(raw)), encodePngChunk('IEND', new Uint8Array(0)));
  return Buffer.concat(chunks);
}

function expectSegError(fn: () => unknown, ...parts: (string | RegExp)[]): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(SegError);
  const message = (caught as SegError).message;
  for (const part of parts) {
    if (typeof part === 'string') expect(message).toContain(part);
    else expect(message).toMatch(part);
  }
}

describe('label PNG writing', () => {
  it('writes an 8-bit palette PNG with the 256-entry VOC colormap that reads back exactly', () => {
    const dir = tempDir();
    const data = Uint8Array.from([0, 1, 2, 255, 20, 7, 254, 3, 0, 0, 15, 255]);
    const path = join(dir, 'a.png');
    writeLabelPng(path, { width: 4, height: 3, data });
    const bytes = readFileSync(path);
    expect(bytes[25]).toBe(3); // IHDR colour type: palette
    expect(bytes[24]).toBe(8); // bit depth
    // PLTE follows IHDR: length 768, then the colormap.
    expect(bytes.readUInt32BE(33)).toBe(768);
    expect(bytes.subarray(37, 41).toString('latin1')).toBe('PLTE');
    expect(Uint8Array.from(bytes.subarray(41, 41 + 768))).toEqual(vocColormap());
    const back = readLabelPng(path);
    expect(back.width).toBe(4);
    expect(back.height).toBe(3);
    expect(Array.from(back.data)).toEqual(Array.from(data));
  });

  it('is read by another PNG tool (pngjs) as the VOC colours of the indices', () => {
    const data = Uint8Array.from([0, 1, 15, 255, 2, 3]);
    const png = PNG.sync.read(encodeLabelPng({ width: 3, height: 2, data }));
    const map = vocColormap();
    for (let i = 0; i < data.length; i++) {
      const k = data[i] as number;
      expect([png.data[i * 4], png.data[i * 4 + 1], png.data[i * 4 + 2]]).toEqual([map[k * 3], map[k * 3 + 1], map[k * 3 + 2]]);
    }
  });
});

describe('label PNG reading', () => {
  it('gives palette indices whatever the palette colours are', () => {
    // A 5-colour palette where index 0 is white and index 4 is black: nothing like VOC's.
    const palette = Uint8Array.from([255, 255, 255, 10, 200, 30, 0, 0, 255, 128, 128, 128, 0, 0, 0]);
    const data = Uint8Array.from([4, 3, 2, 1, 0, 0, 1, 2, 3, 4]);
    const back = decodeLabelPng(encodeLabelPng({ width: 5, height: 2, data }, palette), 'custom.png');
    expect(Array.from(back.data)).toEqual(Array.from(data));
  });

  it('gives gray values of 8-bit grayscale PNGs (SegmentationClassAug), for every filter type pngjs writes', () => {
    const values = [0, 7, 255, 3, 254, 200, 21, 1, 19];
    for (const filterType of [0, 1, 2, 3, 4]) {
      const png = new PNG({ width: 3, height: 3, colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false });
      png.data = Buffer.from(values);
      const bytes = PNG.sync.write(png, { colorType: 0, inputColorType: 0, inputHasAlpha: false, bitDepth: 8, filterType });
      expect(bytes[25]).toBe(0);
      expect(Array.from(decodeLabelPng(bytes, 'gray.png').data), `filter ${filterType}`).toEqual(values);
    }
  });

  it('undoes all five filters (hand-built rows, mixed per row)', () => {
    const width = 23;
    const height = 12;
    // Flat runs (ties in the Paeth predictor) mixed with pseudo-random bytes.
    let state = 12345;
    const rows = Uint8Array.from({ length: width * height }, (_, i) => {
      state = (state * 1103515245 + 12345) >>> 0;
      return i % 7 < 3 ? (Math.floor(i / 50) * 40) & 0xff : state >>> 24;
    });
    const bytes = handPng({ width, height, rows, filters: [0, 1, 2, 3, 4, 4, 4, 3, 1, 2], palette: vocColormap() });
    expect(Array.from(decodeLabelPng(bytes, 'filters.png').data)).toEqual(Array.from(rows));
    const gray = handPng({ width, height, rows, colorType: 0, filters: [4, 3, 2, 1, 0, 3] });
    expect(Array.from(decodeLabelPng(gray, 'filters-gray.png').data)).toEqual(Array.from(rows));
  });

  it('unpacks 4-bit and 1-bit palette PNGs to indices', () => {
    // 5 pixels at 4 bits: indices 1,2,3,15,0 packed two per byte.
    const four = handPng({
      width: 5,
      height: 1,
      bitDepth: 4,
      rows: Uint8Array.from([0x12, 0x3f, 0x00]),
      palette: vocColormap().subarray(0, 48),
    });
    expect(Array.from(decodeLabelPng(four, 'four.png').data)).toEqual([1, 2, 3, 15, 0]);
    const one = handPng({
      width: 10,
      height: 1,
      bitDepth: 1,
      rows: Uint8Array.from([0b10110000, 0b01000000]),
      palette: vocColormap().subarray(0, 6),
    });
    expect(Array.from(decodeLabelPng(one, 'one.png').data)).toEqual([1, 0, 1, 1, 0, 0, 0, 0, 0, 1]);
  });

  it('async and sync readers agree', async () => {
    const dir = tempDir();
    const data = Uint8Array.from({ length: 64 * 48 }, (_, i) => (i % 23 === 0 ? 255 : i % 21));
    const path = join(dir, 'b.png');
    writeLabelPng(path, { width: 64, height: 48, data });
    const a = readLabelPng(path);
    const b = await loadLabelPng(path);
    expect(b.width).toBe(64);
    expect(Buffer.from(b.data).equals(Buffer.from(a.data))).toBe(true);
    expect(Buffer.from(a.data).equals(Buffer.from(data))).toBe(true);
  });
});

describe('label PNG errors name the file and say what is wrong', () => {
  it('refuses RGB and RGBA labels, saying why', () => {
    const png = new PNG({ width: 2, height: 2 });
    png.data = Buffer.alloc(16, 200);
    const rgba = PNG.sync.write(png, { colorType: 6 });
    expectSegError(() => decodeLabelPng(rgba, 'rgba-label.png'), 'rgba-label.png', 'RGBA', 'class indices', 'palette');
    const rgb = PNG.sync.write(png, { colorType: 2 });
    expectSegError(() => decodeLabelPng(rgb, 'rgb-label.png'), 'rgb-label.png', 'is RGB', 'grayscale');
  });

  it('refuses interlaced and 16-bit labels', () => {
    const interlaced = handPng({ width: 2, height: 2, rows: new Uint8Array(4), interlace: 1, palette: vocColormap() });
    expectSegError(() => decodeLabelPng(interlaced, 'il.png'), 'il.png', 'interlaced');
    const sixteen = handPng({ width: 2, height: 2, bitDepth: 16, colorType: 0, rows: new Uint8Array(8) });
    expectSegError(() => decodeLabelPng(sixteen, 'deep.png'), 'deep.png', '16-bit');
  });

  it('detects a CRC mismatch, truncation, a missing file and non-PNG bytes', () => {
    const dir = tempDir();
    const good = encodeLabelPng({ width: 8, height: 8, data: new Uint8Array(64).fill(3) });
    const corrupt = Buffer.from(good);
    corrupt[30] = (corrupt[30] as number) ^ 0xff; // inside IHDR's data
    expectSegError(() => decodeLabelPng(corrupt, 'crc.png'), 'crc.png', 'CRC mismatch', 'IHDR');
    const truncatedPath = join(dir, 'cut.png');
    writeFileSync(truncatedPath, good.subarray(0, good.length - 20));
    expectSegError(() => readLabelPng(truncatedPath), truncatedPath, 'truncated');
    expectSegError(() => readLabelPng(join(dir, 'nope.png')), join(dir, 'nope.png'), 'not found');
    expectSegError(() => decodeLabelPng(Buffer.from('GIF89a not a png at all'), 'x.gif'), 'x.gif', 'not a PNG');
  });

  it('detects image data shorter than the header promises', () => {
    // Header says 4x4 but the compressed rows hold only 2 rows.
    const bytes = handPng({ width: 4, height: 2, rows: new Uint8Array(8), palette: vocColormap() });
    bytes.writeUInt32BE(4, 20); // height field of IHDR
    // Re-seal the IHDR CRC so only the data length is wrong.
    const fixed = Buffer.concat([bytes.subarray(0, 8), encodePngChunk('IHDR', bytes.subarray(16, 29)), bytes.subarray(33)]);
    expectSegError(() => decodeLabelPng(fixed, 'short.png'), 'short.png', 'truncated', '10 of 20 bytes');
  });

  it('rejects a corrupt async read with the file name too', async () => {
    const dir = tempDir();
    const path = join(dir, 'cut.png');
    const good = encodeLabelPng({ width: 8, height: 8, data: new Uint8Array(64).fill(3) });
    writeFileSync(path, good.subarray(0, 40));
    await expect(loadLabelPng(path)).rejects.toThrow(SegError);
    await expect(loadLabelPng(path)).rejects.toThrow(path);
    await expect(loadLabelPng(join(dir, 'missing.png'))).rejects.toThrow('not found');
  });
});
