/**
 * MATLAB MAT-files, level 5 (what MATLAB's `save` writes by default up to -v7, and scipy's
 * `savemat`): the subset that datasets such as SBD use. Read: numeric and logical arrays
 * (any storage type widened to the array's class), char arrays, structs, cell arrays and
 * sparse arrays, in zlib-compressed (miCOMPRESSED) or plain elements, either byte order.
 * Arrays stay column-major, as MATLAB keeps them (`dims` [rows, cols, ...]).
 *
 * No npm reader fits (mat-for-js is GPL-3.0, which an Apache-2.0 package cannot take in);
 * this one is tested against files written by scipy. v7.3 files (HDF5), v4 files and MATLAB
 * objects are refused with a message saying so; every inconsistency is a SegError naming
 * the file.
 */
import { inflateSync } from 'node:zlib';
import { SegError } from '../core/errors.js';

export type MatNumericClass = 'double' | 'single' | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64';

export type MatNumericData =
  | Float64Array
  | Float32Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

export type MatValue =
  | { kind: 'numeric'; class: MatNumericClass; logical: boolean; dims: number[]; real: MatNumericData; imag?: MatNumericData }
  | { kind: 'char'; dims: number[]; text: string }
  | { kind: 'struct'; dims: number[]; fields: string[]; elements: Map<string, MatValue>[] }
  | { kind: 'cell'; dims: number[]; cells: MatValue[] }
  | { kind: 'sparse'; dims: number[]; logical: boolean; rowIndices: Int32Array; columnStarts: Int32Array; values: Float64Array };

// Data types (the tag of each data element) and array classes (in the array flags).
const MI = {
  INT8: 1,
  UINT8: 2,
  INT16: 3,
  UINT16: 4,
  INT32: 5,
  UINT32: 6,
  SINGLE: 7,
  DOUBLE: 9,
  INT64: 12,
  UINT64: 13,
  MATRIX: 14,
  COMPRESSED: 15,
  UTF8: 16,
  UTF16: 17,
  UTF32: 18,
};
const MI_BYTES: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 9: 8, 12: 8, 13: 8, 16: 1, 17: 2, 18: 4 };
const MX = { CELL: 1, STRUCT: 2, OBJECT: 3, CHAR: 4, SPARSE: 5 };
const MX_NUMERIC: Record<number, MatNumericClass> = {
  6: 'double',
  7: 'single',
  8: 'int8',
  9: 'uint8',
  10: 'int16',
  11: 'uint16',
  12: 'int32',
  13: 'uint32',
  14: 'int64',
  15: 'uint64',
};
/** The data type that stores each class as it is. */
const NATIVE: Record<string, number> = { double: 9, float64: 9, single: 7, int8: 1, uint8: 2, int16: 3, uint16: 4, int32: 5, uint32: 6 };
const LITTLE_ENDIAN_HOST = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;
const FLAG_COMPLEX = 0x08;
const FLAG_LOGICAL = 0x02;

class Reader {
  constructor(
    readonly bytes: Uint8Array,
    readonly view: DataView,
    readonly little: boolean,
    readonly file: string,
  ) {}

  static of(bytes: Uint8Array, little: boolean, file: string): Reader {
    return new Reader(bytes, new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), little, file);
  }

  fail(problem: string): SegError {
    return new SegError(`${this.file}: not a valid MAT-file: ${problem}`, this.file);
  }

  u32(at: number): number {
    if (at + 4 > this.bytes.length) throw this.fail(`truncated at byte ${at}`);
    return this.view.getUint32(at, this.little);
  }
}

interface Element {
  type: number;
  /** Where the element's data starts and ends. */
  start: number;
  end: number;
  /** Where the next element starts (data padded to 8 bytes; small elements take 8 in all). */
  next: number;
}

function readTag(r: Reader, at: number, limit: number): Element {
  const first = r.u32(at);
  const small = first >>> 16;
  if (small !== 0) {
    // small data element: bytes in the upper half, type in the lower, data in the next 4 bytes
    const end = at + 4 + small;
    if (small > 4 || at + 8 > limit) throw r.fail(`a small data element of ${small} bytes at byte ${at}`);
    return { type: first & 0xffff, start: at + 4, end, next: at + 8 };
  }
  const bytes = r.u32(at + 4);
  const start = at + 8;
  const end = start + bytes;
  if (end > limit) throw r.fail(`an element of ${bytes} bytes at byte ${at} runs past the end (truncated file?)`);
  const padded = first === MI.COMPRESSED ? end : start + Math.ceil(bytes / 8) * 8;
  return { type: first, start, end, next: Math.min(padded, limit) };
}

function numbers(r: Reader, e: Element, into: MatNumericClass | 'int32' | 'float64'): MatNumericData {
  const size = MI_BYTES[e.type];
  if (size === undefined) throw r.fail(`data of type ${e.type} where numbers were expected`);
  const count = (e.end - e.start) / size;
  if (!Number.isInteger(count)) throw r.fail(`${e.end - e.start} bytes of ${size}-byte values`);
  const read = (i: number): number | bigint => {
    const at = e.start + i * size;
    switch (e.type) {
      case MI.INT8:
        return r.view.getInt8(at);
      case MI.UINT8:
      case MI.UTF8:
        return r.view.getUint8(at);
      case MI.INT16:
        return r.view.getInt16(at, r.little);
      case MI.UINT16:
      case MI.UTF16:
        return r.view.getUint16(at, r.little);
      case MI.INT32:
        return r.view.getInt32(at, r.little);
      case MI.UINT32:
      case MI.UTF32:
        return r.view.getUint32(at, r.little);
      case MI.SINGLE:
        return r.view.getFloat32(at, r.little);
      case MI.DOUBLE:
        return r.view.getFloat64(at, r.little);
      case MI.INT64:
        return r.view.getBigInt64(at, r.little);
      default:
        return r.view.getBigUint64(at, r.little);
    }
  };
  const make = {
    double: Float64Array,
    float64: Float64Array,
    single: Float32Array,
    int8: Int8Array,
    uint8: Uint8Array,
    int16: Int16Array,
    uint16: Uint16Array,
    int32: Int32Array,
    uint32: Uint32Array,
  } as const;
  if (into === 'int64' || into === 'uint64') {
    const out = into === 'int64' ? new BigInt64Array(count) : new BigUint64Array(count);
    for (let i = 0; i < count; i++) {
      const v = read(i);
      out[i] = typeof v === 'bigint' ? v : BigInt(Math.trunc(v));
    }
    return out;
  }
  const out = new make[into](count);
  if (NATIVE[into] === e.type && (r.little || size === 1) && LITTLE_ENDIAN_HOST) {
    // stored as the class's own type, in this machine's byte order: one copy
    new Uint8Array(out.buffer).set(r.bytes.subarray(e.start, e.end));
    return out;
  }
  for (let i = 0; i < count; i++) out[i] = Number(read(i));
  return out;
}

function text(r: Reader, e: Element): string {
  if (e.type === MI.UTF8 || e.type === MI.UINT8 || e.type === MI.INT8)
    return new TextDecoder('utf-8').decode(r.bytes.subarray(e.start, e.end));
  const codes = numbers(r, e, 'float64');
  return String.fromCodePoint(...Array.from(codes as Float64Array));
}

function product(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** One miMATRIX element's contents (between `start` and `end`). */
function readMatrix(r: Reader, start: number, end: number): { name: string; value: MatValue } {
  if (start === end)
    return { name: '', value: { kind: 'numeric', class: 'double', logical: false, dims: [0, 0], real: new Float64Array(0) } };
  const flagsEl = readTag(r, start, end);
  const word = r.u32(flagsEl.start);
  const arrayClass = word & 0xff;
  const flags = (word >>> 8) & 0xff;
  const dimsEl = readTag(r, flagsEl.next, end);
  const dims = Array.from(numbers(r, dimsEl, 'int32') as Int32Array);
  if (dims.length < 2 || dims.some((d) => d < 0)) throw r.fail(`array dimensions [${dims}]`);
  const nameEl = readTag(r, dimsEl.next, end);
  const name = new TextDecoder('latin1').decode(r.bytes.subarray(nameEl.start, nameEl.end));
  let at = nameEl.next;
  const count = product(dims);
  const nextMatrix = (): MatValue => {
    const el = readTag(r, at, end);
    if (el.type !== MI.MATRIX) throw r.fail(`a ${el.type} element where an array was expected`);
    at = el.next;
    return readMatrix(r, el.start, el.end).value;
  };
  switch (arrayClass) {
    case MX.CELL:
      return { name, value: { kind: 'cell', dims, cells: Array.from({ length: count }, nextMatrix) } };
    case MX.STRUCT: {
      const lengthEl = readTag(r, at, end);
      const fieldLength = r.view.getInt32(lengthEl.start, r.little);
      const namesEl = readTag(r, lengthEl.next, end);
      at = namesEl.next;
      const fields: string[] = [];
      if (fieldLength <= 0) throw r.fail(`struct field names of length ${fieldLength}`);
      for (let p = namesEl.start; p + fieldLength <= namesEl.end; p += fieldLength) {
        const raw = r.bytes.subarray(p, p + fieldLength);
        const zero = raw.indexOf(0);
        fields.push(new TextDecoder('latin1').decode(zero < 0 ? raw : raw.subarray(0, zero)));
      }
      const elements = Array.from({ length: count }, () => new Map(fields.map((f) => [f, nextMatrix()] as const)));
      return { name, value: { kind: 'struct', dims, fields, elements } };
    }
    case MX.CHAR: {
      const data = readTag(r, at, end);
      return { name, value: { kind: 'char', dims, text: text(r, data) } };
    }
    case MX.SPARSE: {
      const ir = readTag(r, at, end);
      const jc = readTag(r, ir.next, end);
      const pr = readTag(r, jc.next, end);
      const rowIndices = numbers(r, ir, 'int32') as Int32Array;
      const columnStarts = numbers(r, jc, 'int32') as Int32Array;
      const values = numbers(r, pr, 'float64') as Float64Array;
      if (columnStarts.length !== (dims[1] as number) + 1)
        throw r.fail(`a sparse array with ${columnStarts.length} column starts for ${dims[1]} columns`);
      return { name, value: { kind: 'sparse', dims, logical: (flags & FLAG_LOGICAL) !== 0, rowIndices, columnStarts, values } };
    }
    case MX.OBJECT:
      throw new SegError(`${r.file}: holds a MATLAB object (${name}), which seg does not read; save plain arrays and structs`, r.file);
    default: {
      const numeric = MX_NUMERIC[arrayClass];
      if (numeric === undefined) throw r.fail(`array class ${arrayClass}`);
      const realEl = readTag(r, at, end);
      const real = numbers(r, realEl, numeric);
      if (real.length !== count) throw r.fail(`${name || 'an array'} has ${real.length} values for dimensions [${dims}]`);
      const imag = (flags & FLAG_COMPLEX) !== 0 ? numbers(r, readTag(r, realEl.next, end), numeric) : undefined;
      return {
        name,
        value: {
          kind: 'numeric',
          class: numeric,
          logical: (flags & FLAG_LOGICAL) !== 0,
          dims,
          real,
          ...(imag !== undefined ? { imag } : {}),
        },
      };
    }
  }
}

/** The variables of a level-5 MAT-file, by name. `file` is named in errors. */
export function parseMat(bytes: Uint8Array, file: string): Map<string, MatValue> {
  const header = new TextDecoder('latin1').decode(bytes.subarray(0, 116));
  const endian = bytes.length < 128 ? '' : String.fromCharCode(bytes[126] as number, bytes[127] as number);
  if (endian !== 'IM' && endian !== 'MI') {
    throw new SegError(
      `${file}: not a level-5 MAT-file (no header: a MATLAB v4 file, or another format); save it with MATLAB -v7 or scipy.io.savemat`,
      file,
    );
  }
  const little = endian === 'IM';
  const version = new DataView(bytes.buffer, bytes.byteOffset + 124, 2).getUint16(0, little);
  if (version === 0x0200 || header.startsWith('MATLAB 7.3')) {
    throw new SegError(`${file}: a MAT-file v7.3 (HDF5), which seg does not read; save it with MATLAB -v7`, file);
  }
  const r = Reader.of(bytes, little, file);
  const out = new Map<string, MatValue>();
  let at = 128;
  while (at < bytes.length) {
    if (at + 8 > bytes.length) throw r.fail(`truncated: ${bytes.length - at} bytes of an element at byte ${at}`);
    const el = readTag(r, at, bytes.length);
    at = el.next;
    if (el.type === MI.COMPRESSED) {
      let inflated: Buffer;
      try {
        inflated = inflateSync(bytes.subarray(el.start, el.end));
      } catch (err) {
        throw r.fail(
          `a compressed element does not inflate (${err instanceof Error ? err.message : String(err)}; truncated or corrupt file)`,
        );
      }
      const inner = Reader.of(inflated, little, file);
      const matrix = readTag(inner, 0, inflated.length);
      if (matrix.type !== MI.MATRIX) throw r.fail(`a compressed element of type ${matrix.type}`);
      const { name, value } = readMatrix(inner, matrix.start, matrix.end);
      out.set(name, value);
    } else if (el.type === MI.MATRIX) {
      const { name, value } = readMatrix(r, el.start, el.end);
      out.set(name, value);
    }
  }
  return out;
}

/** A numeric 2-D array as a row-major HxW grid of bytes (e.g. a label map), checked to hold 0..255 integers. */
export function matToRowMajorBytes(value: MatValue, what: string, file: string): { width: number; height: number; data: Uint8Array } {
  if (value.kind !== 'numeric' || value.dims.length !== 2 || value.imag !== undefined) {
    throw new SegError(`${file}: ${what} is not a real 2-D numeric array`, file);
  }
  const [height, width] = value.dims as [number, number];
  const data = new Uint8Array(width * height);
  const real = value.real;
  if (real instanceof Uint8Array) {
    // uint8 (SBD's labels): every value fits, only the order changes
    for (let x = 0; x < width; x++) for (let y = 0; y < height; y++) data[y * width + x] = real[x * height + y] as number;
    return { width, height, data };
  }
  for (let x = 0; x < width; x++) {
    for (let y = 0; y < height; y++) {
      const v = Number(real[x * height + y]);
      if (!Number.isInteger(v) || v < 0 || v > 255)
        throw new SegError(`${file}: ${what} holds ${v} at row ${y + 1}, column ${x + 1}; expected integers 0..255`, file);
      data[y * width + x] = v;
    }
  }
  return { width, height, data };
}
