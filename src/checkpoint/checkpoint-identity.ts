/**
 * What identifies a checkpoint across machines: its iteration and the SHA-256 of its weights
 * (model.safetensors). The path is kept for people to read; it may differ between machines
 * that mount the same checkpoint elsewhere, so identity never depends on it.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { SegError } from '../core/errors.js';

export interface CheckpointIdentity {
  /** The checkpoint folder read (informative). */
  path: string;
  /** Training iterations when it was saved. */
  iteration: number;
  /** SHA-256 (hex) of model.safetensors. */
  modelSha256: string;
}

/** SHA-256 (hex) of a file, read in chunks. */
export function sha256File(file: string): string {
  const hash = createHash('sha256');
  const buffer = Buffer.alloc(1 << 20);
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw new SegError(`${file}: cannot read (${err instanceof Error ? err.message : String(err)})`, file);
  }
  try {
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, null);
      if (n === 0) break;
      hash.update(buffer.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

/** The identity of the checkpoint folder `dir` (as loaded) saved at `iteration`. */
export function checkpointIdentity(dir: string, iteration: number): CheckpointIdentity {
  return { path: dir, iteration, modelSha256: sha256File(join(dir, 'model.safetensors')) };
}

/** True when both name the same weights (the path is not compared). */
export function sameCheckpoint(a: CheckpointIdentity, b: CheckpointIdentity): boolean {
  return a.iteration === b.iteration && a.modelSha256 === b.modelSha256;
}

export function describeCheckpoint(c: CheckpointIdentity): string {
  return `${c.path} (iteration ${c.iteration}, model.safetensors sha256 ${c.modelSha256.slice(0, 12)})`;
}
