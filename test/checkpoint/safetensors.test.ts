import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SegError } from '../../src/core/errors.js';
import {
  parseSafetensors,
  readSafetensors,
  serializeSafetensors,
  toFloat32,
  writeSafetensors,
  type WritableTensor,
} from '../../src/checkpoint/safetensors.js';

let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seg-safetensors-'));
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A file made by hand: u64 LE header length, the header text, the data bytes. */
function handMade(header: unknown, data: number[] | Uint8Array = [], headerLength?: bigint): Uint8Array {
  const text = typeof header === 'string' ? header : JSON.stringify(header);
  const json = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, headerLength ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function u16le(values: number[]): number[] {
  return values.flatMap((v) => [v & 0xff, v >> 8]);
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

describe('writeSafetensors / readSafetensors', () => {
  it('round-trips F32, I32 and I64 tensors and metadata exactly', () => {
    const tensors = new Map<string, WritableTensor>([
      ['layer1.0.conv1.weight', { shape: [2, 1, 1, 3], data: Float32Array.from([1.5, -2, 0.1, NaN, Infinity, -0]) }],
      ['bn1.num_batches_tracked', { shape: [], data: BigInt64Array.from([2n ** 40n + 3n]) }],
      ['ids', { shape: [3], data: Int32Array.from([-7, 0, 2 ** 31 - 1]) }],
      ['empty', { shape: [0, 4], data: new Float32Array(0) }],
      ['0', { shape: [1], data: BigInt64Array.from([-5n]) }],
    ]);
    const file = path.join(dir, 'round.safetensors');
    writeSafetensors(file, tensors, { format: 'pt', command: 'seg train --head egb' });
    const back = readSafetensors(file);
    expect(back.metadata).toEqual({ format: 'pt', command: 'seg train --head egb' });
    expect([...back.tensors.keys()].sort()).toEqual([...tensors.keys()].sort());
    const w = back.tensors.get('layer1.0.conv1.weight');
    expect(w?.dtype).toBe('F32');
    expect(w?.shape).toEqual([2, 1, 1, 3]);
    expect(w?.data).toBeInstanceOf(Float32Array);
    expect(Array.from(w?.data as Float32Array)).toEqual([1.5, -2, Math.fround(0.1), NaN, Infinity, -0]);
    const n = back.tensors.get('bn1.num_batches_tracked');
    expect(n).toEqual({ dtype: 'I64', shape: [], data: BigInt64Array.from([2n ** 40n + 3n]) });
    expect(back.tensors.get('ids')).toEqual({ dtype: 'I32', shape: [3], data: Int32Array.from([-7, 0, 2 ** 31 - 1]) });
    expect(back.tensors.get('empty')).toEqual({ dtype: 'F32', shape: [0, 4], data: new Float32Array(0) });
    expect(back.tensors.get('0')?.data).toEqual(BigInt64Array.from([-5n]));
    expect(fs.readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('lays out the file as the reference does: sorted names, header padded with spaces to 8 bytes', () => {
    const tensors = new Map<string, WritableTensor>([
      ['b', { shape: [1], data: Float32Array.from([1]) }],
      ['a', { shape: [2], data: Int32Array.from([1, 2]) }],
    ]);
    const bytes = concat(serializeSafetensors(tensors));
    const expectedJson = '{"a":{"dtype":"I32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}';
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(headerLength % 8).toBe(0);
    expect(headerLength).toBe(Math.ceil(expectedJson.length / 8) * 8);
    const header = new TextDecoder().decode(bytes.subarray(8, 8 + headerLength));
    expect(header).toBe(expectedJson.padEnd(headerLength, ' '));
    // a: 1, 2 as int32 LE; b: 1.0f = 0x3f800000 LE
    expect(Array.from(bytes.subarray(8 + headerLength))).toEqual([1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0x80, 0x3f]);
    const metaFirst = new TextDecoder().decode(concat(serializeSafetensors(tensors, { k: 'v' })).subarray(8));
    expect(metaFirst.startsWith('{"__metadata__":{"k":"v"},"a":')).toBe(true);
  });

  it('replaces an existing file and reports an unwritable path without leaving temp files', () => {
    const file = path.join(dir, 'replace.safetensors');
    fs.writeFileSync(file, 'old contents');
    writeSafetensors(file, new Map([['x', { shape: [1], data: Float32Array.from([3]) }]]));
    expect(Array.from(readSafetensors(file).tensors.get('x')?.data as Float32Array)).toEqual([3]);
    const missing = path.join(dir, 'no-such-dir', 'm.safetensors');
    expect(() => writeSafetensors(missing, new Map())).toThrow(SegError);
    expect(() => writeSafetensors(missing, new Map())).toThrow(/no-such-dir.*directory does not exist/);
    expect(fs.readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('refuses tensors whose data does not match their shape', () => {
    const file = path.join(dir, 'bad.safetensors');
    expect(() => writeSafetensors(file, new Map([['x', { shape: [2, 2], data: Float32Array.from([1]) }]]))).toThrow(
      /1 values for shape \[2,2\]/,
    );
    expect(fs.existsSync(file)).toBe(false);
  });

  it('reports a missing file by name', () => {
    const file = path.join(dir, 'absent.safetensors');
    expect(() => readSafetensors(file)).toThrow(SegError);
    expect(() => readSafetensors(file)).toThrow(`cannot read ${file}: no such file`);
  });
});

describe('reading other dtypes', () => {
  it('decodes F16 (normal, negative, subnormal, max, infinities, NaN) to float32', () => {
    // 0x3C00 = 1, 0xC000 = -2, 0x0001 = 2^-24 (smallest subnormal), 0x0200 = 2^-15 (subnormal),
    // 0x7BFF = 65504 (max), 0x3555 = 0.333251953125, 0x7C00 = +inf, 0xFC00 = -inf, 0x7E00 = NaN,
    // 0x8000 = -0
    const halves = [0x3c00, 0xc000, 0x0001, 0x0200, 0x7bff, 0x3555, 0x7c00, 0xfc00, 0x7e00, 0x8000];
    const bytes = handMade({ h: { dtype: 'F16', shape: [2, 5], data_offsets: [0, 20] } }, u16le(halves));
    const t = parseSafetensors(bytes, 'half.safetensors').tensors.get('h');
    expect(t?.dtype).toBe('F16');
    expect(t?.shape).toEqual([2, 5]);
    expect(t?.data).toBeInstanceOf(Float32Array);
    expect(Array.from(t?.data as Float32Array)).toEqual([1, -2, 2 ** -24, 2 ** -15, 65504, 0.333251953125, Infinity, -Infinity, NaN, -0]);
  });

  it('decodes BF16, F64 and U8, and toFloat32 converts every dtype', () => {
    // BF16 0x3F80 = 1, 0xC040 = -3, 0x3E20 = 0.15625
    const bf = u16le([0x3f80, 0xc040, 0x3e20]);
    const f64 = Array.from(new Uint8Array(Float64Array.from([0.1, -1e300]).buffer));
    const i64 = Array.from(new Uint8Array(BigInt64Array.from([-3n, 123456789n]).buffer));
    const data = [...bf, 0, 0, ...f64, 7, 255, ...[0, 0, 0, 0, 0, 0], ...i64];
    const header = {
      b: { dtype: 'BF16', shape: [3], data_offsets: [0, 6] },
      d: { dtype: 'F64', shape: [2], data_offsets: [8, 24] },
      u: { dtype: 'U8', shape: [2], data_offsets: [24, 26] },
      l: { dtype: 'I64', shape: [2, 1], data_offsets: [32, 48] },
      __metadata__: { format: 'pt' },
    };
    const file = parseSafetensors(handMade(header, data), 'mixed.safetensors');
    expect(file.metadata).toEqual({ format: 'pt' });
    expect(Array.from(file.tensors.get('b')?.data as Float32Array)).toEqual([1, -3, 0.15625]);
    expect(file.tensors.get('d')?.data).toEqual(Float64Array.from([0.1, -1e300]));
    expect(file.tensors.get('u')?.data).toEqual(Uint8Array.from([7, 255]));
    const l = file.tensors.get('l');
    expect(l?.data).toEqual(BigInt64Array.from([-3n, 123456789n]));
    expect(Array.from(toFloat32(l as NonNullable<typeof l>))).toEqual([-3, 123456792]); // nearest float32
    const u = file.tensors.get('u');
    expect(Array.from(toFloat32(u as NonNullable<typeof u>))).toEqual([7, 255]);
    const d = file.tensors.get('d');
    expect(Array.from(toFloat32(d as NonNullable<typeof d>))).toEqual([Math.fround(0.1), -Infinity]);
  });

  it('reads tensors at unaligned offsets', () => {
    const f32 = Array.from(new Uint8Array(Float32Array.from([2.5, -1]).buffer));
    const bytes = handMade({ x: { dtype: 'F32', shape: [2], data_offsets: [1, 9] } }, [0, ...f32]);
    expect(Array.from(parseSafetensors(bytes, 'odd').tensors.get('x')?.data as Float32Array)).toEqual([2.5, -1]);
  });

  it('reads from a Node Buffer view at an offset and returns copies, not views', () => {
    const f32 = Array.from(new Uint8Array(Float32Array.from([2.5, -1]).buffer));
    const inner = handMade(
      { x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, u: { dtype: 'U8', shape: [1], data_offsets: [8, 9] } },
      [...f32, 42],
    );
    const source = Buffer.concat([Buffer.from([9, 9, 9]), Buffer.from(inner)]).subarray(3);
    const file = parseSafetensors(source, 'view');
    source.fill(0);
    expect(Array.from(file.tensors.get('x')?.data as Float32Array)).toEqual([2.5, -1]);
    expect(Array.from(file.tensors.get('u')?.data as Uint8Array)).toEqual([42]);
  });
});

describe('malformed files', () => {
  const good = { x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
  const eight = [0, 0, 128, 63, 0, 0, 0, 64];

  it.each<[string, () => Uint8Array, RegExp]>([
    ['shorter than 8 bytes', () => Uint8Array.from([1, 2, 3]), /truncated: 3 bytes, shorter than the 8-byte header length/],
    ['header length beyond the file', () => handMade(good, eight, 10_000n), /header length 10000 goes beyond the end of the file/],
    ['huge header length', () => handMade(good, eight, 2n ** 63n), /header length 9223372036854775808 goes beyond/],
    ['truncated header', () => handMade(good, eight).subarray(0, 30), /header length \d+ goes beyond the end of the file \(30 bytes\)/],
    ['invalid JSON', () => handMade('{"x": {"dtype": "F32",', []), /header is not valid UTF-8 JSON/],
    ['header not an object', () => handMade('[1, 2]', []), /header is not a JSON object/],
    ['truncated data', () => handMade(good, eight.slice(0, 5)), /tensor 'x': data_offsets \[0, 8\] go beyond the 5-byte data/],
    [
      'offsets out of range',
      () => handMade({ x: { dtype: 'F32', shape: [2], data_offsets: [100, 108] } }, eight),
      /data_offsets \[100, 108\] go beyond the 8-byte data/,
    ],
    [
      'overlapping tensors',
      () =>
        handMade(
          {
            x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
            y: { dtype: 'F32', shape: [1], data_offsets: [4, 8] },
          },
          eight,
        ),
      /tensors 'x' \[0, 8\] and 'y' \[4, 8\] overlap/,
    ],
    [
      'size not matching shape x dtype',
      () => handMade({ x: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, eight),
      /8 bytes at \[0, 8\] but shape \[3\] of F32 needs 12/,
    ],
    [
      'size not matching dtype',
      () => handMade({ x: { dtype: 'F64', shape: [2], data_offsets: [0, 8] } }, eight),
      /shape \[2\] of F64 needs 16/,
    ],
    [
      'unknown dtype',
      () => handMade({ x: { dtype: 'Q4', shape: [2], data_offsets: [0, 8] } }, eight),
      /tensor 'x' has dtype 'Q4', expected one of F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL/,
    ],
    ['begin after end', () => handMade({ x: { dtype: 'U8', shape: [0], data_offsets: [8, 0] } }, eight), /begin > end/],
    ['bad shape', () => handMade({ x: { dtype: 'U8', shape: [-1], data_offsets: [0, 0] } }, eight), /shape must be a list of integers/],
    ['missing offsets', () => handMade({ x: { dtype: 'U8', shape: [1] } }, eight), /data_offsets must be \[begin, end\]/],
    ['missing dtype', () => handMade({ x: { shape: [1], data_offsets: [0, 1] } }, eight), /missing dtype/],
    ['non-string metadata', () => handMade({ ...good, __metadata__: { epoch: 3 } }, eight), /__metadata__ value 'epoch' is not a string/],
  ])('%s', (_name, make, message) => {
    const file = path.join(dir, 'broken.safetensors');
    fs.writeFileSync(file, make());
    let caught: unknown;
    try {
      readSafetensors(file);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(SegError);
    expect((caught as SegError).message).toMatch(message);
    expect((caught as SegError).message.startsWith(`${file}: `)).toBe(true);
    expect((caught as SegError).subject).toBe(file);
  });
});
