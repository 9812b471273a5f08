import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LOCK_FILE, lockRunFolder } from '../../src/core/run-lock.js';
import { removeTempDirs, tempDir } from '../datasets/fixtures.js';

afterAll(removeTempDirs);

/** The pid of a process that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

describe('run-folder lock', () => {
  it('is exclusive: a second lock on the same folder is refused naming the owner, until released', () => {
    const dir = tempDir('seg-lock-');
    const lock = lockRunFolder(dir);
    const owner = JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')) as { pid: number; host: string };
    expect(owner).toMatchObject({ pid: process.pid, host: hostname() });
    expect(() => lockRunFolder(dir)).toThrow(new RegExp(`is in use by another run \\(pid ${process.pid} on ${hostname()}`));
    lock.release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    lockRunFolder(dir).release();
  });

  it('takes over the stale lock of a dead process on this host', () => {
    const dir = tempDir('seg-lock-');
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: deadPid(), host: hostname() }));
    const lock = lockRunFolder(dir);
    expect((JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')) as { pid: number }).pid).toBe(process.pid);
    lock.release();
  });

  it('refuses a lock held by a live process, or by any process on another host', () => {
    const dir = tempDir('seg-lock-');
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: process.ppid, host: hostname() }));
    expect(() => lockRunFolder(dir)).toThrow(/in use by another run .*delete .*\.lock/);
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: deadPid(), host: 'elsewhere.example' }));
    expect(() => lockRunFolder(dir)).toThrow(/pid \d+ on elsewhere\.example/);
  });
});
