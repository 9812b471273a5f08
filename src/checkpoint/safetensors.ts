/**
 * safetensors read and write (the format of Hugging Face's `safetensors`):
 *
 *   u64 little-endian N | N bytes of JSON header | byte buffer
 *   header = { "<name>": { "dtype": "F32", "shape": [..], "data_offsets": [begin, end] }, ...,
 *              "__metadata__": { "<key>": "<string>" } }   (offsets relative to the buffer)
 *
 * Reads F32, F16, BF16 (both decoded to float32), F64, I64, I32, I16 and I8 (both widened to
 * int32), U8 and BOOL; writes F32, I32, I64.
 * Every inconsistency in a file (truncation, header length past the end, bad JSON, offsets out
 * of range or overlapping, sizes that do not match shape x dtype, unknown dtypes) is a SegError
 * naming the file: never a crash and never a silently wrong tensor.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { SegError } from '../core/errors.js';
import { writeFileAtomic } from '../core/durable-files.js';
import { isCount, isPlainObject as isRecord } from '../core/schema.js';

export type SafeDtype = 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL' | 'F64';

export const SAFETENSORS_DTYPES: readonly SafeDtype[] = ['F32', 'F16', 'BF16', 'F64', 'I64', 'I32', 'I16', 'I8', 'U8', 'BOOL'];

export const DTYPE_BYTES: Record<SafeDtype, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

export type SafeTensorData = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;

export interface SafeTensor {
  /** The dtype stored in the file (F16/BF16 data is already decoded to Float32Array, I16/I8 to Int32Array, BOOL to Uint8Array). */
  dtype: SafeDtype;
  shape: number[];
  data: SafeTensorData;
}

export interface SafetensorsFile {
  metadata: Record<string, string>;
  tensors: Map<string, SafeTensor>;
}

/** What `writeSafetensors` accepts: F32, I32 or I64 data, row-major, of the shape's size. */
export interface WritableTensor {
  shape: number[];
  data: Float32Array | Int32Array | BigInt64Array;
}

/** The reference implementation refuses headers above 100 MB; so do we. */
const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = '__metadata__';
const LITTLE_ENDIAN_HOST = os.endianness() === 'LE';

// ---------------------------------------------------------------------------------------------
// Reading

function malformed(file: string, problem: string): SegError {
  return new SegError(`${file}: not a valid safetensors file: ${problem}`, file);
}

interface Entry {
  name: string;
  dtype: SafeDtype;
  shape: number[];
  begin: number;
  end: number;
}

function parseEntry(file: string, name: string, info: unknown, dataBytes: number): Entry {
  const where = `tensor '${name}'`;
  if (!isRecord(info)) throw malformed(file, `${where}: header entry is not an object`);
  const { dtype, shape, data_offsets: offsets } = info;
  if (typeof dtype !== 'string') throw malformed(file, `${where}: missing dtype`);
  const known = SAFETENSORS_DTYPES.find((d) => d === dtype);
  if (known === undefined) {
    throw new SegError(
      `${file}: ${where} has dtype '${dtype}', expected one of ${SAFETENSORS_DTYPES.join(', ')} (convert it, e.g. to F32, before loading)`,
      file,
    );
  }
  if (!Array.isArray(shape) || !shape.every(isCount)) throw malformed(file, `${where}: shape must be a list of integers >= 0`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
    throw malformed(file, `${where}: data_offsets must be [begin, end] integers >= 0`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) throw malformed(file, `${where}: data_offsets [${begin}, ${end}] have begin > end`);
  if (end > dataBytes) {
    throw malformed(file, `${where}: data_offsets [${begin}, ${end}] go beyond the ${dataBytes}-byte data (truncated or corrupt file)`);
  }
  const elements = (shape as number[]).reduce((a, b) => a * b, 1);
  const expected = elements * DTYPE_BYTES[known];
  if (!Number.isSafeInteger(expected) || end - begin !== expected) {
    throw malformed(file, `${where}: ${end - begin} bytes at [${begin}, ${end}] but shape [${shape}] of ${known} needs ${expected}`);
  }
  return { name, dtype: known, shape: shape as number[], begin, end };
}

function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24; // zero and subnormals
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** Decode little-endian bytes of `dtype` (into a private copy, so typed arrays are aligned and own their data). */
export function decodeTensorBytes(dtype: SafeDtype, bytes: Uint8Array): SafeTensorData {
  const count = bytes.length / DTYPE_BYTES[dtype];
  // Not bytes.slice(): on a Node Buffer that is a view, not a copy.
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  if (dtype === 'U8' || dtype === 'BOOL') return copy;
  const view = new DataView(copy.buffer, copy.byteOffset, copy.byteLength);
  switch (dtype) {
    case 'F16': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = f16ToF32(view.getUint16(2 * i, true));
      return out;
    }
    case 'BF16': {
      // bfloat16 is the top half of a float32 (both views use host order, so any host works)
      const out = new Float32Array(count);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) bits[i] = view.getUint16(2 * i, true) << 16;
      return out;
    }
    case 'F32':
      if (LITTLE_ENDIAN_HOST) return new Float32Array(copy.buffer, 0, count);
      return Float32Array.from({ length: count }, (_, i) => view.getFloat32(4 * i, true));
    case 'F64':
      if (LITTLE_ENDIAN_HOST) return new Float64Array(copy.buffer, 0, count);
      return Float64Array.from({ length: count }, (_, i) => view.getFloat64(8 * i, true));
    case 'I32':
      if (LITTLE_ENDIAN_HOST) return new Int32Array(copy.buffer, 0, count);
      return Int32Array.from({ length: count }, (_, i) => view.getInt32(4 * i, true));
    case 'I16':
      return Int32Array.from({ length: count }, (_, i) => view.getInt16(2 * i, true));
    case 'I8':
      return Int32Array.from({ length: count }, (_, i) => view.getInt8(i));
    case 'I64': {
      if (LITTLE_ENDIAN_HOST) return new BigInt64Array(copy.buffer, 0, count);
      const out = new BigInt64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getBigInt64(8 * i, true);
      return out;
    }
  }
}

/** Parse safetensors bytes; `nameForErrors` (usually the path) is named in every error. */
export function parseSafetensors(buffer: Uint8Array, nameForErrors: string): SafetensorsFile {
  const file = nameForErrors;
  if (buffer.length < 8) {
    throw malformed(file, `truncated: ${buffer.length} bytes, shorter than the 8-byte header length`);
  }
  const lengthView = new DataView(buffer.buffer, buffer.byteOffset, 8);
  const headerLength = lengthView.getBigUint64(0, true);
  if (headerLength > BigInt(buffer.length - 8)) {
    throw malformed(
      file,
      `header length ${headerLength} goes beyond the end of the file (${buffer.length} bytes): truncated or not safetensors`,
    );
  }
  const n = Number(headerLength);
  if (n > MAX_HEADER_BYTES) throw malformed(file, `header length ${n} is above the ${MAX_HEADER_BYTES}-byte limit`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(buffer.subarray(8, 8 + n)));
  } catch (err) {
    throw malformed(file, `header is not valid UTF-8 JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  if (!isRecord(header)) throw malformed(file, 'header is not a JSON object');

  const dataStart = 8 + n;
  const dataBytes = buffer.length - dataStart;
  let metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === METADATA_KEY) {
      if (!isRecord(info)) throw malformed(file, '__metadata__ is not an object of strings');
      const pairs = Object.entries(info);
      for (const [key, value] of pairs) {
        if (typeof value !== 'string') throw malformed(file, `__metadata__ value '${key}' is not a string`);
      }
      // fromEntries defines own properties, so a key like "__proto__" stays plain data
      metadata = Object.fromEntries(pairs) as Record<string, string>;
      continue;
    }
    entries.push(parseEntry(file, name, info, dataBytes));
  }

  // Two tensors must never share bytes (empty tensors occupy none).
  const placed = entries.filter((e) => e.end > e.begin).sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < placed.length; i++) {
    if (placed[i].begin < placed[i - 1].end) {
      const a = placed[i - 1];
      const b = placed[i];
      throw malformed(file, `tensors '${a.name}' [${a.begin}, ${a.end}] and '${b.name}' [${b.begin}, ${b.end}] overlap`);
    }
  }

  const tensors = new Map<string, SafeTensor>();
  for (const e of entries) {
    const bytes = buffer.subarray(dataStart + e.begin, dataStart + e.end);
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data: decodeTensorBytes(e.dtype, bytes) });
  }
  return { metadata, tensors };
}

/** Read a .safetensors file. A missing or unreadable file is a SegError naming it. */
export function readSafetensors(file: string): SafetensorsFile {
  let buffer: Buffer;
  try {
    buffer = fs.readFileSync(file);
  } catch (err) {
    throw ioError('read', file, err);
  }
  return parseSafetensors(buffer, file);
}

/** Values as float32 (I64 via Number; exact below 2^24). Returns F32/F16/BF16 data as is, not a copy. */
export function toFloat32(t: SafeTensor): Float32Array {
  const data = t.data;
  if (data instanceof Float32Array) return data;
  if (data instanceof BigInt64Array) {
    const out = new Float32Array(data.length);
    for (let i = 0; i < data.length; i++) out[i] = Number(data[i]);
    return out;
  }
  return Float32Array.from(data);
}

// ---------------------------------------------------------------------------------------------
// Writing

function ioError(action: 'read' | 'write', file: string, err: unknown): SegError {
  const code = isRecord(err) && typeof err.code === 'string' ? err.code : '';
  const reason =
    code === 'ENOENT'
      ? action === 'read'
        ? 'no such file (check the path)'
        : 'its directory does not exist (create it first)'
      : code === 'EACCES' || code === 'EPERM'
        ? 'permission denied'
        : code === 'EISDIR'
          ? 'it is a directory, expected a .safetensors file'
          : err instanceof Error
            ? err.message
            : String(err);
  return new SegError(`cannot ${action} ${file}: ${reason}`, file);
}

function dtypeOf(name: string, data: WritableTensor['data']): SafeDtype {
  if (data instanceof Float32Array) return 'F32';
  if (data instanceof Int32Array) return 'I32';
  if (data instanceof BigInt64Array) return 'I64';
  throw new Error(`writeSafetensors: tensor '${name}' must hold a Float32Array, Int32Array or BigInt64Array`);
}

/** Little-endian bytes of a typed array (a view on little-endian hosts). */
function leBytes(data: WritableTensor['data']): Uint8Array {
  if (LITTLE_ENDIAN_HOST) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(data.byteLength);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) {
    if (data instanceof Float32Array) view.setFloat32(4 * i, data[i], true);
    else if (data instanceof Int32Array) view.setInt32(4 * i, data[i], true);
    else view.setBigInt64(8 * i, data[i], true);
  }
  return out;
}

/**
 * The file's bytes as chunks: length, header, then each tensor's data. Tensors are laid out
 * in sorted name order; the header is padded with spaces to a multiple of 8 bytes, as the
 * reference implementation does, so the data starts 8-byte aligned.
 */
export function serializeSafetensors(tensors: Map<string, WritableTensor>, metadata?: Record<string, string>): Uint8Array[] {
  const names = [...tensors.keys()].sort();
  const parts: string[] = [];
  if (metadata !== undefined && Object.keys(metadata).length > 0) {
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value !== 'string') throw new Error(`writeSafetensors: metadata '${key}' must be a string`);
    }
    parts.push(`${JSON.stringify(METADATA_KEY)}:${JSON.stringify(metadata)}`);
  }
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const name of names) {
    const t = tensors.get(name) as WritableTensor;
    if (name === '' || name === METADATA_KEY) throw new Error(`writeSafetensors: '${name}' cannot be a tensor name`);
    const dtype = dtypeOf(name, t.data);
    if (!t.shape.every(isCount)) throw new Error(`writeSafetensors: tensor '${name}' has shape [${t.shape}]`);
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (size !== t.data.length) {
      throw new Error(`writeSafetensors: tensor '${name}' has ${t.data.length} values for shape [${t.shape}] (${size})`);
    }
    const bytes = leBytes(t.data);
    // Keys are written in this order explicitly (JSON.stringify of an object would move
    // integer-like names such as "0" to the front).
    parts.push(`${JSON.stringify(name)}:${JSON.stringify({ dtype, shape: t.shape, data_offsets: [offset, offset + bytes.length] })}`);
    offset += bytes.length;
    chunks.push(bytes);
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const padded = new Uint8Array(Math.ceil(json.length / 8) * 8).fill(0x20);
  padded.set(json);
  const length = new Uint8Array(8);
  new DataView(length.buffer).setBigUint64(0, BigInt(padded.length), true);
  return [length, padded, ...chunks];
}

/** Write tensors (F32 / I32 / I64 by array type) and string metadata to `file`, atomically and durably. */
export function writeSafetensors(file: string, tensors: Map<string, WritableTensor>, metadata?: Record<string, string>): void {
  const chunks = serializeSafetensors(tensors, metadata);
  writeFileAtomic(file, chunks);
}
