/**
 * A state dict (tensor name -> tensor) from a weights file of any kind seg reads, told apart
 * by content, not by extension: safetensors, or a PyTorch `.pth`/`.pt` file (zip or legacy,
 * see pth-file.ts). Training checkpoints that wrap the state dict (`{'model': ...}` as
 * torchvision's references save, `{'state_dict': ...}` as timm, Lightning and mmsegmentation
 * do) are unwrapped, and the key used is reported.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { SegError } from '../core/errors.js';
import { isLegacyPth, isZip, readPth, type PthFormat } from './pth-file.js';
import { readSafetensors, type SafeTensor } from './safetensors.js';
import { isTensorRef, type PickleValue, type TensorRef } from './torch-pickle.js';

export type StateDictFormat = 'safetensors' | `pth-${PthFormat}`;

export interface StateDictFile {
  file: string;
  format: StateDictFormat;
  tensors: Map<string, SafeTensor>;
  /** The key the state dict was found under in a wrapping checkpoint (`model`, `state_dict`), or undefined at the top. */
  wrappedIn?: string;
  /** Entries of the state dict that are not tensors (left out). */
  skipped: string[];
}

/** Keys under which training checkpoints keep their state dict, in the order they are tried. */
export const WRAPPER_KEYS = ['state_dict', 'model', 'model_state_dict', 'module', 'net'] as const;

function head(file: string, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    throw new SegError(
      code === 'ENOENT'
        ? `${file}: no such file (check the path)`
        : code === 'EISDIR'
          ? `${file}: is a directory, expected a weights file`
          : `cannot read ${file}: ${String(err)}`,
      file,
    );
  }
  try {
    const n = readSync(fd, out, 0, length, 0);
    return out.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/** The tensors of a Map whose keys are strings and values mostly tensors; undefined when it holds none. */
function tensorEntries(value: PickleValue): { refs: Map<string, TensorRef>; skipped: string[] } | undefined {
  if (!(value instanceof Map)) return undefined;
  const refs = new Map<string, TensorRef>();
  const skipped: string[] = [];
  for (const [key, item] of value) {
    if (typeof key !== 'string') return undefined;
    if (isTensorRef(item)) refs.set(key, item);
    else skipped.push(key);
  }
  return refs.size > 0 ? { refs, skipped } : undefined;
}

function describeTop(value: PickleValue): string {
  if (value instanceof Map) {
    const keys = [...value.keys()].map((k) => String(k));
    return `a dict with keys ${keys.slice(0, 6).join(', ')}${keys.length > 6 ? ', ...' : ''}`;
  }
  return Array.isArray(value) ? `a list of ${value.length}` : typeof value;
}

function readTorchStateDict(file: string): StateDictFile {
  const pth = readPth(file);
  let found = tensorEntries(pth.value);
  let wrappedIn: string | undefined;
  if (found === undefined && pth.value instanceof Map) {
    for (const key of WRAPPER_KEYS) {
      const inner = pth.value.get(key);
      found = inner === undefined ? undefined : tensorEntries(inner);
      if (found !== undefined) {
        wrappedIn = key;
        break;
      }
    }
  }
  if (found === undefined) {
    throw new SegError(
      `${file}: no state dict found: the file holds ${describeTop(pth.value)}; expected a dict of tensors (or one under ${WRAPPER_KEYS.map((k) => `'${k}'`).join(', ')})`,
      file,
    );
  }
  const tensors = new Map<string, SafeTensor>();
  for (const [key, ref] of found.refs) tensors.set(key, pth.tensor(ref));
  return { file, format: `pth-${pth.format}`, tensors, ...(wrappedIn !== undefined ? { wrappedIn } : {}), skipped: found.skipped };
}

/** True when `file` looks like a PyTorch file (zip or legacy pickle) rather than safetensors. */
export function isTorchFile(file: string): boolean {
  const bytes = head(file, 32);
  return isZip(bytes) || isLegacyPth(bytes);
}

/** Read the state dict of a .safetensors or .pth file (see the module comment). */
export function readStateDict(file: string): StateDictFile {
  if (isTorchFile(file)) return readTorchStateDict(file);
  return { file, format: 'safetensors', tensors: readSafetensors(file).tensors, skipped: [] };
}
