/**
 * PyTorch files read natively, against fixtures written once by real PyTorch 1.13
 * (tools/make_pth_fixtures.py; expected.json holds the values torch itself wrote).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePth, readPth } from '../../src/checkpoint/pth-file.js';
import { readStateDict } from '../../src/checkpoint/state-dict-file.js';
import { UnsafePickleError, unpickleTorch } from '../../src/checkpoint/torch-pickle.js';
import type { SafeTensor } from '../../src/checkpoint/safetensors.js';
import { SegError } from '../../src/core/errors.js';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'pth');
const fixture = (name: string): string => path.join(FIXTURES, name);

interface ExpectedTensor {
  dtype: string;
  shape: number[];
  values: (number | string)[];
}
interface ExpectedSummary {
  dtype: string;
  shape: number[];
  sum: number;
  sumSquares: number;
  first: (number | string)[];
}
const expected = JSON.parse(fs.readFileSync(fixture('expected.json'), 'utf8')) as {
  state_dict: Record<string, ExpectedTensor>;
  resnet_stem: Record<string, ExpectedTensor>;
  deeplabv3_tiny: Record<string, ExpectedSummary>;
};

const SAFE_OF: Record<string, string> = {
  float32: 'F32',
  float16: 'F16',
  bfloat16: 'BF16',
  float64: 'F64',
  int64: 'I64',
  int32: 'I32',
  int16: 'I16',
  int8: 'I8',
  uint8: 'U8',
  bool: 'BOOL',
};

function valuesOf(t: SafeTensor): (number | string)[] {
  if (t.data instanceof BigInt64Array) return Array.from(t.data, (v) => v.toString());
  return Array.from(t.data as ArrayLike<number>);
}

function expectEqualTensors(tensors: Map<string, SafeTensor>, want: Record<string, ExpectedTensor>): void {
  expect([...tensors.keys()]).toEqual(Object.keys(want));
  for (const [name, w] of Object.entries(want)) {
    const t = tensors.get(name) as SafeTensor;
    expect(t.dtype, name).toBe(SAFE_OF[w.dtype]);
    expect(t.shape, name).toEqual(w.shape);
    // torch's float32 values as doubles: equal exactly, not within a tolerance
    expect(valuesOf(t), name).toEqual(w.values);
  }
}

describe('PyTorch .pth files', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'seg-pth-'));
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('reads a zip-format state dict with equal tensors: dtypes, int64 beyond 2^31, views, offsets, shared storages', () => {
    const sd = readStateDict(fixture('state_dict.pth'));
    expect(sd.format).toBe('pth-zip');
    expectEqualTensors(sd.tensors, expected.state_dict);
    // the transposed view really is read through its strides
    expect(sd.tensors.get('transposed')?.shape).toEqual([4, 3]);
    expect(valuesOf(sd.tensors.get('int64') as SafeTensor)).toEqual(['-3', '0', '2147483653', '1099511627776', '-4611686018427387904']);
  });

  it('reads the legacy (pre-zip) format with the same tensors', () => {
    const sd = readStateDict(fixture('state_dict_legacy.pth'));
    expect(sd.format).toBe('pth-legacy');
    expectEqualTensors(sd.tensors, expected.state_dict);
  });

  it('reads a torchvision DeepLabV3 state dict (legacy) with every tensor as torch wrote it', () => {
    const sd = readStateDict(fixture('deeplabv3_tiny.pth'));
    expect([...sd.tensors.keys()]).toEqual(Object.keys(expected.deeplabv3_tiny));
    for (const [name, w] of Object.entries(expected.deeplabv3_tiny)) {
      const t = sd.tensors.get(name) as SafeTensor;
      expect(t.shape, name).toEqual(w.shape);
      const values = valuesOf(t).map(Number);
      const sum = values.reduce((a, b) => a + b, 0);
      const squares = values.reduce((a, b) => a + b * b, 0);
      expect(Math.abs(sum - w.sum), name).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(w.sum)) + 1e-9);
      expect(Math.abs(squares - w.sumSquares), name).toBeLessThanOrEqual(1e-9 * Math.max(1, w.sumSquares));
      expect(valuesOf(t).slice(0, 3), name).toEqual(w.first);
    }
  });

  it('unwraps a training checkpoint ({model: state dict, epoch}) and says where it found the weights', () => {
    const sd = readStateDict(fixture('nested_checkpoint.pth'));
    expect(sd.wrappedIn).toBe('model');
    expectEqualTensors(sd.tensors, expected.resnet_stem);
  });

  it.each([
    ['evil_system.pth', /refused to unpickle 'posix\.system'/],
    ['evil_system_legacy.pth', /refused to unpickle 'posix\.system'/],
    ['evil_exec_proto4.pth', /refused to unpickle 'builtins\.exec'/],
  ])('refuses %s (os.system / exec via GLOBAL, STACK_GLOBAL and REDUCE) and runs nothing', (name, message) => {
    const cwd = process.cwd();
    process.chdir(tmp);
    try {
      let caught: unknown;
      try {
        readStateDict(fixture(name));
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(UnsafePickleError);
      expect((caught as Error).message).toMatch(message);
      expect((caught as Error).message).toMatch(/nothing in it was executed/);
      expect((caught as Error).message).toContain(fixture(name));
      expect(fs.existsSync(path.join(tmp, 'seg-pwned'))).toBe(false);
    } finally {
      process.chdir(cwd);
    }
  });

  it('refuses a tensor view that runs past its storage', () => {
    expect(() => readPth(fixture('evil_bounds.pth'))).toThrow(
      /shape \[10\] at offset 2 with stride \[1\] reaches element 11 of a 4-element storage/,
    );
  });

  it('refuses hand-made pickles that name other globals or are malformed', () => {
    // GLOBAL 'os system', a string, TUPLE1, REDUCE, STOP (protocol 0-style opcodes)
    const evil = new TextEncoder().encode("cos\nsystem\n(S'echo hi'\ntR.");
    expect(() => unpickleTorch(evil, 'evil.pkl')).toThrow(UnsafePickleError);
    // the storage type is named but then called: refused as malformed, not executed
    const called = new TextEncoder().encode('ctorch\nFloatStorage\n)R.');
    expect(() => unpickleTorch(called, 'called.pkl')).toThrow(/storage type torch\.FloatStorage is called/);
    const truncated = new Uint8Array([0x80, 0x02, 0x7d, 0x71]);
    expect(() => unpickleTorch(truncated, 'cut.pkl')).toThrow(/cut\.pkl: not a valid PyTorch file: its pickle could not be read/);
  });

  it('refuses truncated archives with a message naming the file, at every cut', () => {
    for (const name of ['state_dict.pth', 'state_dict_legacy.pth']) {
      const bytes = fs.readFileSync(fixture(name));
      for (const fraction of [0.1, 0.5, 0.9, 0.999]) {
        const cut = bytes.subarray(0, Math.floor(bytes.length * fraction));
        const file = path.join(tmp, `cut-${fraction}-${name}`);
        let caught: unknown;
        try {
          parsePth(cut, file);
        } catch (err) {
          caught = err;
        }
        expect(caught, `${name} at ${fraction}`).toBeInstanceOf(SegError);
        expect((caught as Error).message).toContain(file);
        expect((caught as Error).message).toMatch(/truncated|corrupt/);
      }
    }
  });

  it('says what a file is when it is not a torch.save file', () => {
    const tarLike = new Uint8Array(1024);
    tarLike.set(new TextEncoder().encode('ustar'), 257);
    expect(() => parsePth(tarLike, 'old.pth')).toThrow(/tar-based file from PyTorch before 0\.4/);
    expect(() => parsePth(new Uint8Array([1, 2, 3, 4]), 'junk.pth')).toThrow(/neither a zip archive/);
    expect(() => readPth(path.join(tmp, 'missing.pth'))).toThrow(/no such file/);
  });
});
