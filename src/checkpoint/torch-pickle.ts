/**
 * Restricted unpickling of the pickles inside PyTorch files (`torch.save`), on the
 * `pickleparser` package's opcode machine. Python's pickle can name any function and call it
 * (GLOBAL/STACK_GLOBAL + REDUCE: `os.system`, `builtins.exec`); here a name resolves only if
 * it is one of the few that state dicts use:
 *
 *   collections.OrderedDict                      the state dict itself (and backward hooks)
 *   torch._utils._rebuild_tensor_v2 / _rebuild_tensor     a tensor: storage, offset, size, stride
 *   torch._utils._rebuild_parameter(_with_state)  an nn.Parameter: its tensor
 *   torch.<Dtype>Storage, torch.UntypedStorage    storage types named in persistent ids
 *   _codecs.encode                               how protocol 2 spells `bytes` (data only)
 *
 * Every other name is refused when the pickle names it, before anything is built, so a
 * malicious file runs nothing. What comes back is plain data: null, booleans, numbers, bigints,
 * strings, bytes, arrays (lists and tuples), Maps (dicts) and frozen TensorRef / StorageRef
 * records that say where a tensor's values lie; the container (pth-file.ts) reads them.
 */
import { BufferReader, Parser } from 'pickleparser';
import { SegError } from '../core/errors.js';
import { isCount } from '../core/schema.js';

export const TORCH_DTYPES = ['float32', 'float16', 'bfloat16', 'float64', 'int64', 'int32', 'int16', 'int8', 'uint8', 'bool'] as const;
export type TorchDtype = (typeof TORCH_DTYPES)[number];

export const TORCH_DTYPE_BYTES: Record<TorchDtype, number> = {
  float32: 4,
  float16: 2,
  bfloat16: 2,
  float64: 8,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

const STORAGE_TYPES: Record<string, TorchDtype> = {
  FloatStorage: 'float32',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  DoubleStorage: 'float64',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
  UntypedStorage: 'uint8',
};

/** A storage named by a persistent id: `numel` elements of `dtype` under `key` (the zip's data/<key>). */
export interface StorageRef {
  readonly kind: 'storage';
  readonly key: string;
  readonly dtype: TorchDtype;
  readonly numel: number;
  /** Legacy files only: a view of `size` elements at `offset` into the root storage `key`. */
  readonly view?: { readonly key: string; readonly offset: number; readonly size: number };
}

/** A tensor: `shape` elements at `offset`, with `stride`, in a storage (element units). */
export interface TensorRef {
  readonly kind: 'tensor';
  readonly storage: StorageRef;
  readonly offset: number;
  readonly shape: readonly number[];
  readonly stride: readonly number[];
}

export type PickleValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PickleValue[]
  | Map<PickleValue, PickleValue>
  | TensorRef
  | StorageRef;

export interface UnpickleResult {
  value: PickleValue;
  /** Bytes consumed (the pickle's STOP included): where the next pickle or the storages begin. */
  end: number;
}

/** A pickle that names something seg does not allow: refused, and nothing was run. */
export class UnsafePickleError extends SegError {
  readonly global: string;

  constructor(file: string, global: string) {
    super(
      `${file}: refused to unpickle '${global}': seg reads only PyTorch state dicts (tensors in dicts, lists and tuples, ` +
        'numbers and strings) and never runs code from a file; nothing in it was executed. ' +
        'If you trust the file, load it in PyTorch and save only its weights: torch.save(model.state_dict(), path)',
      file,
    );
    this.name = 'UnsafePickleError';
    this.global = global;
  }
}

function malformed(file: string, problem: string): SegError {
  return new SegError(`${file}: not a valid PyTorch file: ${problem}`, file);
}

function countList(v: unknown): number[] | undefined {
  return Array.isArray(v) && v.every(isCount) ? (v as number[]) : undefined;
}

/** Name lookups: a function for each allowed global (storage types are functions that refuse to be called). */
const storageRefs = new WeakSet<object>();
const tensorRefs = new WeakSet<object>();

function isStorageRef(v: unknown): v is StorageRef {
  return typeof v === 'object' && v !== null && storageRefs.has(v);
}

/** True for the tensor records this module made (a pickle cannot forge one). */
export function isTensorRef(v: unknown): v is TensorRef {
  return typeof v === 'object' && v !== null && tensorRefs.has(v);
}

class Allowlist {
  readonly storageTypes = new WeakMap<object, TorchDtype>();

  constructor(private readonly file: string) {}

  resolve(module: string, name: string): (...args: unknown[]) => unknown {
    const global = `${module}.${name}`;
    if (module === 'torch' && name in STORAGE_TYPES) {
      const type = (): never => {
        throw malformed(this.file, `the storage type ${global} is called`);
      };
      this.storageTypes.set(type, STORAGE_TYPES[name] as TorchDtype);
      return type;
    }
    switch (global) {
      case 'collections.OrderedDict':
        return (items?: unknown) => this.orderedDict(items);
      case 'torch._utils._rebuild_tensor_v2':
      case 'torch._utils._rebuild_tensor':
        return (storage: unknown, offset: unknown, size: unknown, stride: unknown) => this.tensor(storage, offset, size, stride);
      case 'torch._utils._rebuild_parameter':
      case 'torch._utils._rebuild_parameter_with_state':
        return (data: unknown) => {
          if (!isTensorRef(data)) throw malformed(this.file, 'a parameter without a tensor');
          return data;
        };
      case '_codecs.encode':
        return (text: unknown, encoding: unknown) => this.encode(text, encoding);
      default:
        throw new UnsafePickleError(this.file, global);
    }
  }

  private orderedDict(items: unknown): Map<unknown, unknown> {
    const dict = new Map<unknown, unknown>();
    if (items === undefined) return dict;
    if (!Array.isArray(items)) throw malformed(this.file, 'OrderedDict() of something other than a list of pairs');
    for (const pair of items) {
      if (!Array.isArray(pair) || pair.length !== 2) throw malformed(this.file, 'OrderedDict() item is not a (key, value) pair');
      dict.set(pair[0], pair[1]);
    }
    return dict;
  }

  private tensor(storage: unknown, offset: unknown, size: unknown, stride: unknown): TensorRef {
    const shape = countList(size);
    const strides = countList(stride);
    if (!isStorageRef(storage)) throw malformed(this.file, 'a tensor without a storage');
    if (!isCount(offset) || shape === undefined || strides === undefined || strides.length !== shape.length) {
      throw malformed(this.file, `a tensor with offset ${String(offset)}, size [${String(size)}] and stride [${String(stride)}]`);
    }
    const available = storage.view?.size ?? storage.numel;
    const numel = shape.reduce((a, b) => a * b, 1);
    const last = numel === 0 ? offset : offset + shape.reduce((sum, d, i) => sum + (d - 1) * (strides[i] as number), 0);
    if (!Number.isSafeInteger(last) || (numel > 0 && last >= available)) {
      throw malformed(
        this.file,
        `a tensor of shape [${shape}] at offset ${offset} with stride [${strides}] reaches element ${last} of a ${available}-element storage`,
      );
    }
    const ref: TensorRef = Object.freeze({ kind: 'tensor', storage, offset, shape: Object.freeze(shape), stride: Object.freeze(strides) });
    tensorRefs.add(ref);
    return ref;
  }

  private encode(text: unknown, encoding: unknown): Uint8Array {
    if (typeof text !== 'string' || (encoding !== 'latin1' && encoding !== 'latin-1')) {
      throw malformed(this.file, `_codecs.encode(${typeof text}, ${String(encoding)})`);
    }
    const out = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      if (code > 255) throw malformed(this.file, 'a latin-1 byte string with a character above 255');
      out[i] = code;
    }
    return out;
  }
}

export interface UnpickleOptions {
  /** Where the pickle starts in `bytes` (default 0). */
  start?: number;
  /** Storages already named by earlier pickles of the same file (legacy files share one table). */
  storages?: Map<string, StorageRef>;
}

/**
 * Unpickle one pickle from `bytes` (a torch `data.pkl`, or one of the pickles of a legacy file).
 * `file` is named in every error. Storages named by persistent ids are recorded in
 * `options.storages` (keyed by their storage key) and referenced from the tensors.
 */
export function unpickleTorch(bytes: Uint8Array, file: string, options: UnpickleOptions = {}): UnpickleResult {
  const allow = new Allowlist(file);
  const storages = options.storages ?? new Map<string, StorageRef>();
  const persistent = (pid: unknown): StorageRef => {
    if (!Array.isArray(pid) || pid.length < 5) throw malformed(file, 'a persistent id that is not a storage tuple');
    const [typename, type, key, , numel, view] = pid as unknown[];
    if (typename === 'module') {
      throw new SegError(
        `${file}: holds a pickled nn.Module (torch.save(model)), whose code seg does not run; save its weights instead: torch.save(model.state_dict(), path)`,
        file,
      );
    }
    const dtype = typeof type === 'function' ? allow.storageTypes.get(type) : undefined;
    if (typename !== 'storage' || dtype === undefined || typeof key !== 'string' || !isCount(numel)) {
      throw malformed(file, `an unknown persistent id (${String(typename)})`);
    }
    let ref = storages.get(key);
    if (ref === undefined) {
      ref = Object.freeze({ kind: 'storage' as const, key, dtype, numel });
      storages.set(key, ref);
      storageRefs.add(ref);
    } else if (ref.dtype !== dtype) {
      throw malformed(file, `storage ${key} is read as both ${ref.dtype} and ${dtype}`);
    }
    if (view === undefined || view === null) return ref;
    if (!Array.isArray(view) || view.length !== 3 || typeof view[0] !== 'string' || !isCount(view[1]) || !isCount(view[2])) {
      throw malformed(file, `storage ${key} has a malformed view`);
    }
    if (view[1] + view[2] > ref.numel) throw malformed(file, `a view of storage ${key} runs past its ${ref.numel} elements`);
    const viewRef: StorageRef = Object.freeze({ ...ref, view: Object.freeze({ key: view[0], offset: view[1], size: view[2] }) });
    storageRefs.add(viewRef);
    return viewRef;
  };
  const parser = new Parser({
    nameResolver: { resolve: (module: string, name: string) => allow.resolve(module, name) },
    persistentResolver: { resolve: persistent },
    unpicklingTypeOfDictionary: 'Map',
    unpicklingTypeOfSet: 'array',
  });
  const reader = new BufferReader(options.start === undefined ? bytes : bytes.subarray(options.start));
  let value: unknown;
  try {
    value = parser.read(reader);
  } catch (err) {
    if (err instanceof SegError) throw err;
    throw malformed(
      file,
      `its pickle could not be read (${err instanceof Error ? err.message : String(err)}); the file is truncated or corrupt`,
    );
  }
  return { value: checkedValue(value, file), end: (options.start ?? 0) + reader.position };
}

/** The unpickled tree with every node checked to be plain data (depth-first; shared nodes are checked once). */
function checkedValue(root: unknown, file: string): PickleValue {
  const seen = new Set<unknown>();
  const visit = (v: unknown): void => {
    if (v === null || typeof v === 'boolean' || typeof v === 'number' || typeof v === 'bigint' || typeof v === 'string') return;
    if (v instanceof Uint8Array || isTensorRef(v) || isStorageRef(v)) return;
    if (seen.has(v)) return;
    seen.add(v);
    if (Array.isArray(v) && Object.getPrototypeOf(v) === Array.prototype) {
      for (const item of v) visit(item);
      return;
    }
    if (v instanceof Map && Object.getPrototypeOf(v) === Map.prototype) {
      for (const [key, item] of v) {
        visit(key);
        visit(item);
      }
      return;
    }
    throw malformed(file, `its pickle holds a value seg does not read (${typeof v === 'function' ? 'a function' : typeof v})`);
  };
  visit(root);
  return root as PickleValue;
}
