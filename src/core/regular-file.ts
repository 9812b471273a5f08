/**
 * Dataset files are read only when they are regular files: a device (a link to /dev/zero)
 * never ends and a FIFO blocks the reader, so both are reported instead of read.
 */
import { statSync, type Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { SegError } from './errors.js';

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

function check(path: string, st: Stats, what: string): void {
  if (!st.isFile()) throw new SegError(`${path}: ${what} file is ${kindOf(st)}, not a regular file; replace it with the real file`, path);
}

/** Throws a SegError unless `path` (symlinks followed) is a regular file; ENOENT and the like propagate. */
export function requireRegularFile(path: string, what: string): void {
  check(path, statSync(path), what);
}

export async function requireRegularFileAsync(path: string, what: string): Promise<void> {
  check(path, await stat(path), what);
}
