/** IDX files (the MNIST format), plain or gzipped: unsigned-byte tensors with big-endian dimensions. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import { SegError } from '../core/errors.js';

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

const UBYTE = 0x08;

/** Parse IDX bytes (gunzipped first when they start with the gzip magic). Only unsigned-byte data. */
export function decodeIdx(bytes: Uint8Array, file: string): IdxArray {
  let raw = bytes;
  if (raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      raw = gunzipSync(raw);
    } catch (err) {
      throw new SegError(`${file}: corrupt or truncated gzip (${err instanceof Error ? err.message : String(err)})`, file);
    }
  }
  if (raw.length < 4 || raw[0] !== 0 || raw[1] !== 0) throw new SegError(`${file}: not an IDX file (bad magic number)`, file);
  if (raw[2] !== UBYTE) throw new SegError(`${file}: IDX data type 0x${(raw[2] ?? 0).toString(16)} is not unsigned byte (0x08)`, file);
  const ndims = raw[3] as number;
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  if (raw.length < 4 + 4 * ndims) throw new SegError(`${file}: truncated IDX header`, file);
  const dims = Array.from({ length: ndims }, (_, i) => view.getUint32(4 + 4 * i));
  const count = dims.reduce((a, b) => a * b, 1);
  const start = 4 + 4 * ndims;
  if (raw.length < start + count) throw new SegError(`${file}: truncated IDX data (${raw.length - start} of ${count} bytes)`, file);
  return { dims, data: raw.subarray(start, start + count) };
}

export function readIdx(path: string): IdxArray {
  if (!existsSync(path)) throw new SegError(`${path}: IDX file not found`, path);
  return decodeIdx(readFileSync(path), path);
}

/** Encode an unsigned-byte IDX array (gzipped when `gzip`). */
export function encodeIdx(array: IdxArray, gzip = true): Buffer {
  const header = Buffer.alloc(4 + 4 * array.dims.length);
  header[2] = UBYTE;
  header[3] = array.dims.length;
  for (const [i, d] of array.dims.entries()) header.writeUInt32BE(d, 4 + 4 * i);
  const raw = Buffer.concat([header, array.data]);
  return gzip ? gzipSync(raw) : raw;
}

export function writeIdx(path: string, array: IdxArray, gzip = true): void {
  writeFileSync(path, encodeIdx(array, gzip));
}
