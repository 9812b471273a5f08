/**
 * PyTorch `.pth` / `.pt` files (`torch.save`) read without Python, in both of torch's layouts:
 *
 * - zip (torch >= 1.6): `<prefix>/data.pkl` is the pickled object, whose tensors name
 *   storages by key; `<prefix>/data/<key>` holds each storage's raw little-endian bytes
 *   (unzipped with `fflate`; PyTorch stores them uncompressed);
 * - legacy (before 1.6, or `_use_new_zipfile_serialization=False`; torchvision's older files):
 *   five pickles in a row (magic number, protocol 1001, system info, the object, the sorted
 *   storage keys), then each storage as an int64 element count and its bytes.
 *
 * The pickles go through the restricted unpickler (torch-pickle.ts): nothing in a file is
 * executed. Tensors come out contiguous (views, transposes and storage offsets resolved), as
 * SafeTensor values. Every inconsistency (truncation, sizes that do not match, a view past
 * its storage, big-endian data) is a SegError naming the file.
 */
import { readFileSync } from 'node:fs';
import { unzipSync } from 'fflate';
import { SegError } from '../core/errors.js';
import { decodeTensorBytes, type SafeDtype, type SafeTensor } from './safetensors.js';
import { type PickleValue, type StorageRef, TORCH_DTYPE_BYTES, type TensorRef, type TorchDtype, unpickleTorch } from './torch-pickle.js';

export type PthFormat = 'zip' | 'legacy';

export interface PthFile {
  file: string;
  format: PthFormat;
  /** The unpickled object (usually a state dict: a Map of names to TensorRef). */
  value: PickleValue;
  /** A tensor's values, contiguous and row-major. */
  tensor(ref: TensorRef): SafeTensor;
}

const SAFE_DTYPE: Record<TorchDtype, SafeDtype> = {
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

/** Legacy files begin with pickle.dump(0x1950a86a20f9469cfc6c): LONG1 of these 10 bytes. */
const LEGACY_MAGIC = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
const LEGACY_PROTOCOL_VERSION = 1001;
/** Compressed zip entries larger than this are refused (PyTorch never compresses; a bomb would). */
const MAX_INFLATED_BYTES = 2 ** 31;

function malformed(file: string, problem: string): SegError {
  return new SegError(`${file}: not a valid PyTorch file: ${problem}`, file);
}

export function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}

/** True when `bytes` begin like a legacy torch.save file (a protocol >= 2 pickle of the magic number). */
export function isLegacyPth(bytes: Uint8Array): boolean {
  return legacyMagicEnd(bytes) !== undefined;
}

/** The offset after the magic number's pickle, or undefined when it is not there. */
function legacyMagicEnd(bytes: Uint8Array): number | undefined {
  if (bytes[0] !== 0x80 || (bytes[1] ?? 0) < 2) return undefined;
  let at = 2;
  if (bytes[at] === 0x95) at += 9; // FRAME (protocol 4+)
  if (bytes[at] !== 0x8a || bytes[at + 1] !== 0x0a) return undefined;
  at += 2;
  for (let i = 0; i < LEGACY_MAGIC.length; i++) if (bytes[at + i] !== LEGACY_MAGIC[i]) return undefined;
  at += LEGACY_MAGIC.length;
  if (bytes[at] === 0x94) at += 1; // MEMOIZE
  return bytes[at] === 0x2e ? at + 1 : undefined; // STOP
}

function isTar(bytes: Uint8Array): boolean {
  return bytes.length > 262 && String.fromCharCode(...bytes.subarray(257, 262)) === 'ustar';
}

/** Row-major strides of `shape`. */
function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) strides[i] = (strides[i + 1] as number) * (shape[i + 1] as number);
  return strides;
}

/** Copy a strided view out of a storage's bytes into contiguous bytes. */
function gather(storage: Uint8Array, elementBytes: number, start: number, shape: readonly number[], stride: readonly number[]): Uint8Array {
  const numel = shape.reduce((a, b) => a * b, 1);
  const out = new Uint8Array(numel * elementBytes);
  if (numel === 0) return out;
  const want = contiguousStrides(shape);
  if (shape.every((d, i) => d === 1 || stride[i] === want[i])) {
    out.set(storage.subarray(start * elementBytes, (start + numel) * elementBytes));
    return out;
  }
  const index = new Array<number>(shape.length).fill(0);
  let source = start;
  for (let k = 0; k < numel; k++) {
    out.set(storage.subarray(source * elementBytes, (source + 1) * elementBytes), k * elementBytes);
    for (let d = shape.length - 1; d >= 0; d--) {
      index[d] = (index[d] as number) + 1;
      source += stride[d] as number;
      if ((index[d] as number) < (shape[d] as number)) break;
      source -= (shape[d] as number) * (stride[d] as number);
      index[d] = 0;
    }
  }
  return out;
}

function tensorReader(bytesOf: (ref: StorageRef) => Uint8Array): (ref: TensorRef) => SafeTensor {
  return (ref) => {
    const storage = ref.storage;
    const elementBytes = TORCH_DTYPE_BYTES[storage.dtype];
    const bytes = bytesOf(storage);
    const start = (storage.view?.offset ?? 0) + ref.offset;
    const packed = gather(bytes, elementBytes, start, ref.shape, ref.stride);
    const dtype = SAFE_DTYPE[storage.dtype];
    return { dtype, shape: [...ref.shape], data: decodeTensorBytes(dtype, packed) };
  };
}

function zipError(file: string, err: unknown): SegError {
  if (err instanceof SegError) return err;
  const reason = err instanceof Error ? err.message : String(err);
  return malformed(file, `its zip archive cannot be read (${reason}); the file is truncated or corrupt (download it again)`);
}

function readZip(file: string, bytes: Uint8Array): PthFile {
  const names: string[] = [];
  const small = (name: string): boolean => /(^|\/)(data\.pkl|byteorder|version)$/.test(name) && !name.includes('/data/');
  const guard = (entry: { name: string; compression: number; originalSize: number }): void => {
    if (entry.compression !== 0 && entry.originalSize > MAX_INFLATED_BYTES) {
      throw malformed(file, `zip entry ${entry.name} inflates to ${entry.originalSize} bytes`);
    }
  };
  let meta: Record<string, Uint8Array>;
  try {
    meta = unzipSync(bytes, {
      filter: (entry) => {
        names.push(entry.name);
        guard(entry);
        return small(entry.name);
      },
    });
  } catch (err) {
    throw zipError(file, err);
  }
  const pickleName = names.find((n) => /^[^/]*\/data\.pkl$/.test(n)) ?? names.find((n) => n === 'data.pkl');
  if (pickleName === undefined) {
    const script = names.some((n) => /(^|\/)constants\.pkl$/.test(n) || /(^|\/)code\//.test(n));
    throw new SegError(
      script
        ? `${file}: a TorchScript archive (torch.jit.save), whose code seg does not run; save the model's weights instead: torch.save(model.state_dict(), path)`
        : `${file}: a zip archive without data.pkl, so not written by torch.save (entries: ${names.slice(0, 4).join(', ')}${names.length > 4 ? ', ...' : ''})`,
      file,
    );
  }
  const prefix = pickleName.slice(0, pickleName.length - 'data.pkl'.length);
  const byteorder = meta[`${prefix}byteorder`];
  if (byteorder !== undefined && new TextDecoder().decode(byteorder).trim() !== 'little') {
    throw new SegError(`${file}: holds big-endian tensors; seg reads little-endian files (re-save it on a little-endian machine)`, file);
  }
  const storages = new Map<string, StorageRef>();
  const { value } = unpickleTorch(meta[pickleName] as Uint8Array, file, { storages });
  const wanted = new Set([...storages.keys()].map((key) => `${prefix}data/${key}`));
  let data: Record<string, Uint8Array>;
  try {
    data = unzipSync(bytes, { filter: (entry) => wanted.has(entry.name) });
  } catch (err) {
    throw zipError(file, err);
  }
  const checked = new Map<string, Uint8Array>();
  for (const [key, ref] of storages) {
    const entry = data[`${prefix}data/${key}`];
    const expected = ref.numel * TORCH_DTYPE_BYTES[ref.dtype];
    if (entry === undefined) throw malformed(file, `storage ${key} is missing (no ${prefix}data/${key} in the archive)`);
    if (entry.length !== expected) {
      throw malformed(
        file,
        `storage ${key} has ${entry.length} bytes, ${ref.numel} ${ref.dtype} values need ${expected}; the file is truncated or corrupt`,
      );
    }
    checked.set(key, entry);
  }
  return { file, format: 'zip', value, tensor: tensorReader((ref) => checked.get(ref.key) as Uint8Array) };
}

function readLegacy(file: string, bytes: Uint8Array, magicEnd: number): PthFile {
  const storages = new Map<string, StorageRef>();
  const protocol = unpickleTorch(bytes, file, { start: magicEnd });
  if (protocol.value !== LEGACY_PROTOCOL_VERSION) {
    throw malformed(file, `legacy protocol version ${String(protocol.value)}, expected ${LEGACY_PROTOCOL_VERSION}`);
  }
  const sysInfo = unpickleTorch(bytes, file, { start: protocol.end });
  if (sysInfo.value instanceof Map && sysInfo.value.get('little_endian') === false) {
    throw new SegError(`${file}: holds big-endian tensors; seg reads little-endian files (re-save it on a little-endian machine)`, file);
  }
  const main = unpickleTorch(bytes, file, { start: sysInfo.end, storages });
  const keyList = unpickleTorch(bytes, file, { start: main.end });
  const keys = keyList.value;
  if (!Array.isArray(keys) || !keys.every((k): k is string => typeof k === 'string'))
    throw malformed(file, 'the storage key list is not a list of strings');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const located = new Map<string, Uint8Array>();
  let at = keyList.end;
  for (const key of keys) {
    const ref = storages.get(key);
    if (ref === undefined) throw malformed(file, `storage ${key} is listed but no tensor uses it`);
    if (at + 8 > bytes.length) throw malformed(file, `truncated: storage ${key} is missing (the file ends at byte ${bytes.length})`);
    const count = view.getBigInt64(at, true);
    if (count !== BigInt(ref.numel)) throw malformed(file, `storage ${key} holds ${count} values, its tensors expect ${ref.numel}`);
    const length = ref.numel * TORCH_DTYPE_BYTES[ref.dtype];
    at += 8;
    if (at + length > bytes.length) {
      throw malformed(
        file,
        `truncated: storage ${key} needs ${length} bytes at byte ${at}, the file ends at byte ${bytes.length} (download it again)`,
      );
    }
    located.set(key, bytes.subarray(at, at + length));
    at += length;
  }
  for (const key of storages.keys()) if (!located.has(key)) throw malformed(file, `storage ${key} is used but not stored`);
  return { file, format: 'legacy', value: main.value, tensor: tensorReader((ref) => located.get(ref.key) as Uint8Array) };
}

/** Parse the bytes of a torch.save file; `file` is named in errors. */
export function parsePth(bytes: Uint8Array, file: string): PthFile {
  if (isZip(bytes)) return readZip(file, bytes);
  const magicEnd = legacyMagicEnd(bytes);
  if (magicEnd !== undefined) return readLegacy(file, bytes, magicEnd);
  if (isTar(bytes)) {
    throw new SegError(`${file}: a tar-based file from PyTorch before 0.4; load it in a current PyTorch and save it again`, file);
  }
  throw malformed(file, 'neither a zip archive (torch >= 1.6) nor a legacy torch.save file');
}

/** Read a torch.save file. */
export function readPth(file: string): PthFile {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    throw new SegError(code === 'ENOENT' ? `${file}: no such file (check the path)` : `cannot read ${file}: ${String(err)}`, file);
  }
  return parsePth(bytes, file);
}
