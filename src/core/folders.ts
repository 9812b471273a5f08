/**
 * Creating the folder a command writes into (`--out`, `--output`), once, before any work:
 * a failure is a SegError naming the flag, the folder and the reason, not a raw ENOENT or
 * EPERM for every file later. Levels are created one by one: Node's recursive mkdir loops
 * for ever where a file system answers ENOENT for a folder that cannot be made (/proc).
 */
import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { SegError } from './errors.js';
import { ioReason } from './durable-files.js';

function reason(err: unknown): string {
  // ENOENT for a folder whose parent exists: the file system will not have it (/proc, a read-only mount).
  if ((err as { code?: unknown } | null)?.code === 'ENOENT') return 'the file system refused it: read-only or virtual';
  return ioReason(err);
}

function kindOf(path: string): 'folder' | 'other' | 'missing' {
  try {
    return statSync(path).isDirectory() ? 'folder' : 'other';
  } catch {
    return 'missing';
  }
}

/** Create `path` (and its missing parents) as a folder; `flag` names the option in the error. */
export function makeFolder(path: string, flag: string): void {
  const fail = (detail: string): SegError =>
    new SegError(`${flag} ${path}: cannot create the folder${detail}; choose another ${flag}`, flag);
  const target = resolve(path);
  const kind = kindOf(target);
  if (kind === 'folder') return;
  if (kind === 'other') throw new SegError(`${flag} ${path}: is a file, not a folder; choose another ${flag}`, flag);
  const missing: string[] = [];
  let at = target;
  while (kindOf(at) === 'missing') {
    missing.unshift(at);
    const parent = dirname(at);
    if (parent === at) break;
    at = parent;
  }
  if (kindOf(at) === 'other') throw fail(`: ${at} is a file, not a folder`);
  for (const level of missing) {
    try {
      mkdirSync(level);
    } catch (err) {
      if ((err as { code?: unknown }).code === 'EEXIST' && kindOf(level) === 'folder') continue;
      throw fail(` ${level} (${reason(err)})`);
    }
  }
}
