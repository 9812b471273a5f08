import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SegError } from '../../src/core/errors.js';
import { makeFolder } from '../../src/core/folders.js';
import { removeTempDirs, tempDir } from '../datasets/fixtures.js';

afterAll(removeTempDirs);

/** An immutable folder (chattr +i), or why there is none here; the caller makes it mutable again. */
function immutableFolder(dir: string): string | { skip: string } {
  const folder = join(dir, 'immutable');
  mkdirSync(folder);
  const r = spawnSync('chattr', ['+i', folder], { encoding: 'utf8' });
  if (r.status !== 0) return { skip: `chattr +i is not available here (${(r.stderr || String(r.error)).trim()})` };
  return folder;
}

describe('makeFolder', () => {
  it('creates missing levels and accepts an existing folder', () => {
    const dir = tempDir('seg-folders-');
    makeFolder(join(dir, 'a', 'b', 'c'), '--out');
    expect(existsSync(join(dir, 'a', 'b', 'c'))).toBe(true);
    makeFolder(join(dir, 'a', 'b'), '--out');
  });

  it('a file in the way is a SegError naming the flag and the folder', () => {
    const dir = tempDir('seg-folders-');
    writeFileSync(join(dir, 'file'), 'x');
    expect(() => makeFolder(join(dir, 'file', 'run'), '--out')).toThrow(SegError);
    expect(() => makeFolder(join(dir, 'file', 'run'), '--out')).toThrow(
      /--out .*file\/run: cannot create the folder: .*file is a file, not a folder; choose another --out/,
    );
    expect(() => makeFolder(join(dir, 'file'), '--out')).toThrow(/file: is a file, not a folder/);
  });

  it('an unwritable parent (chattr +i: EPERM) is a SegError, not an internal error', (ctx) => {
    const dir = tempDir('seg-folders-');
    const folder = immutableFolder(dir);
    if (typeof folder !== 'string') {
      ctx.skip(folder.skip);
      return;
    }
    try {
      expect(() => makeFolder(join(folder, 'run', 'sub'), '--out')).toThrow(
        /--out .*immutable\/run\/sub: cannot create the folder .*immutable\/run \(permission denied\); choose another --out/,
      );
    } finally {
      execFileSync('chattr', ['-i', folder]);
    }
  });

  it.skipIf(process.platform !== 'linux')(
    'a folder on a file system that refuses it with ENOENT (/proc) fails at once, not in a loop',
    () => {
      // Node's own mkdir -p loops for ever here.
      expect(() => makeFolder('/proc/seg-test-no-such/run', '--output')).toThrow(
        /--output \/proc\/seg-test-no-such\/run: cannot create the folder \/proc\/seg-test-no-such \(the file system refused it: read-only or virtual\)/,
      );
    },
  );
});
