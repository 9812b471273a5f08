/**
 * An exclusive lock on a run folder: `<dir>/.lock`, created with O_EXCL and holding the
 * owner's pid and host. A lock left by a process that no longer runs on this host is stale
 * and taken over; any other lock is refused, so two runs never write the same folder.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { SegError } from './errors.js';

export const LOCK_FILE = '.lock';

export interface RunLock {
  readonly file: string;
  /** Remove the lock (once; later calls do nothing). */
  release(): void;
}

export interface LockOwner {
  pid: number;
  host: string;
  startedAt?: string;
}

/** The owner recorded in a lock file; undefined when it cannot be read. */
export function readOwner(file: string): LockOwner | undefined {
  try {
    const value = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockOwner>;
    return typeof value.pid === 'number' && typeof value.host === 'string'
      ? { pid: value.pid, host: value.host, ...(typeof value.startedAt === 'string' ? { startedAt: value.startedAt } : {}) }
      : undefined;
  } catch {
    return undefined;
  }
}

/** True while a process with this pid runs on this host. */
export function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it runs, as another user.
    return (err as { code?: string }).code === 'EPERM';
  }
}

function tryCreate(file: string, owner: LockOwner): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'wx');
  } catch (err) {
    if ((err as { code?: string }).code === 'EEXIST') return false;
    throw new SegError(`${file}: cannot create the run's lock file (${err instanceof Error ? err.message : String(err)})`, file);
  }
  try {
    writeSync(fd, `${JSON.stringify(owner)}\n`);
  } finally {
    closeSync(fd);
  }
  return true;
}

/** Lock run folder `dir` (which must exist) for this process, or throw a SegError naming the owner. */
export function lockRunFolder(dir: string): RunLock {
  const file = join(dir, LOCK_FILE);
  const me: LockOwner = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    if (tryCreate(file, me)) {
      let held = true;
      return {
        file,
        release(): void {
          if (!held) return;
          held = false;
          // Only remove our own lock (a stale-lock takeover by another process replaced it otherwise).
          if (readOwner(file)?.pid === me.pid) rmSync(file, { force: true });
        },
      };
    }
    const owner = readOwner(file);
    if (owner !== undefined && owner.host === me.host && owner.pid !== me.pid && !processRuns(owner.pid)) {
      rmSync(file, { force: true }); // stale: its process is gone
      continue;
    }
    const who =
      owner === undefined
        ? 'an unreadable owner'
        : `pid ${owner.pid} on ${owner.host}${owner.startedAt !== undefined ? ` since ${owner.startedAt}` : ''}`;
    const self = owner?.pid === me.pid && owner.host === me.host ? ' (this very process: the folder is already in use here)' : '';
    throw new SegError(
      `${dir} is in use by another run (${who})${self}; wait for it to finish or choose another folder. ` +
        `If no such process runs any more, delete ${file}`,
      file,
    );
  }
  throw new SegError(`${file}: could not take the lock (it keeps changing); is another run starting in ${dir}?`, file);
}
