/** Durability for atomic writes (temp file + rename): make the rename itself survive a crash. */
import { closeSync, fsyncSync, openSync } from 'node:fs';

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
