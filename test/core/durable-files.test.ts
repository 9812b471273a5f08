import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFileAtomic, writeJsonAtomic } from '../../src/core/durable-files.js';
import { SegError } from '../../src/core/errors.js';

describe('writeFileAtomic', () => {
  it('writes text, bytes and chunks, and leaves no temp file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'seg-durable-'));
    writeFileAtomic(join(dir, 'a.txt'), 'hello');
    writeFileAtomic(join(dir, 'b.bin'), new Uint8Array([1, 2, 3]));
    writeFileAtomic(join(dir, 'c.bin'), [new Uint8Array([4]), new Uint8Array([5, 6])]);
    writeJsonAtomic(join(dir, 'd.json'), { a: 1 });
    expect(readFileSync(join(dir, 'a.txt'), 'utf8')).toBe('hello');
    expect([...readFileSync(join(dir, 'b.bin'))]).toEqual([1, 2, 3]);
    expect([...readFileSync(join(dir, 'c.bin'))]).toEqual([4, 5, 6]);
    expect(readFileSync(join(dir, 'd.json'), 'utf8')).toBe('{\n  "a": 1\n}\n');
    expect(readdirSync(dir).sort()).toEqual(['a.txt', 'b.bin', 'c.bin', 'd.json']);
  });

  it('a failed write is a SegError naming the file, and the previous file is intact', () => {
    const dir = mkdtempSync(join(tmpdir(), 'seg-durable-'));
    const blocker = join(dir, 'file');
    writeFileSync(blocker, 'old');
    // The target's folder is a regular file: the write must fail.
    const target = join(blocker, 'x.json');
    expect(() => writeFileAtomic(target, 'new')).toThrow(SegError);
    expect(() => writeFileAtomic(target, 'new')).toThrow(/x\.json: could not write/);
    expect(readFileSync(blocker, 'utf8')).toBe('old');
    expect(readdirSync(dir)).toEqual(['file']);
  });
});
