/**
 * Durable, atomic file writes: the bytes go to `<file>.tmp-<pid>`, are fsynced, then renamed
 * over `file`, and the directory is synced, so a crash never leaves a half-written file under
 * the real name and the previous version stays intact until the rename.
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { SegError } from './errors.js';

/** fsync a directory after renaming into it; best effort (not every platform can fsync a directory). */
export function syncDirectory(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // ignored: the file data itself is already synced
  }
}

/** The system's reason for a failed file operation, in words. */
export function ioReason(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  switch (code) {
    case 'ENOSPC':
      return 'no space left on the device';
    case 'EDQUOT':
      return 'disk quota exceeded';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOENT':
      return 'its directory does not exist (create it first)';
    case 'EIO':
      return 'input/output error: the disk or file system failed';
    case 'EXDEV':
      return 'cannot rename across file systems';
    case 'EROFS':
      return 'read-only file system';
    default:
      return err instanceof Error ? err.message : String(err);
  }
}

/** A failed write: the file, and the system's reason in words. */
export class WriteError extends SegError {
  readonly file: string;
  readonly reason: string;

  constructor(file: string, reason: string, consequence = 'any previous version of the file is intact') {
    super(`${file}: could not write (${reason}); ${consequence}`, file);
    this.name = 'WriteError';
    this.file = file;
    this.reason = reason;
  }
}

/** The SegError for a failed write of `file`: names it, the system's reason, and that the old file is intact. */
export function writeError(file: string, err: unknown): WriteError {
  return new WriteError(file, ioReason(err));
}

/** Write `data` (text or byte chunks) to `file` atomically and durably; the folder must exist. */
export function writeFileAtomic(file: string, data: string | Uint8Array | readonly Uint8Array[]): void {
  const tmp = `${file}.tmp-${process.pid}`;
  const chunks = typeof data === 'string' ? [Buffer.from(data, 'utf8')] : data instanceof Uint8Array ? [data] : data;
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'w');
    for (const chunk of chunks) {
      let written = 0;
      while (written < chunk.length) written += writeSync(fd, chunk, written, chunk.length - written);
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, file);
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    try {
      rmSync(tmp, { force: true });
    } catch {
      // nothing was created
    }
    throw writeError(file, err);
  }
  syncDirectory(dirname(file));
}

/** `value` as pretty JSON (two-space indent, trailing newline), written atomically. */
export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
}
