/** seg eval through the CLI on hostile datasets: ids with control characters, repeated ids, truncated images. */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeLabelPng } from '../../src/voc/label-png.js';
import { blockLabel, gradientImage, removeTempDirs, tempDir, writeVocFixture } from '../voc/fixtures.js';
import { runSeg } from './run-cli.js';

const EVIL = 'evil\u001b[2Jid';
let root: string;
let preds: string;

beforeAll(async () => {
  const dir = tempDir('seg-eval-cli-');
  root = await writeVocFixture(
    join(dir, 'voc'),
    [
      { id: 'a', image: gradientImage(16, 12), label: blockLabel(16, 12, 3) },
      { id: EVIL, image: gradientImage(16, 12, 1), label: blockLabel(16, 12, 3, 1) },
    ],
    { val: ['a', EVIL], twice: ['a', EVIL, 'a'] },
    ['bg', 'x', 'y'],
  );
  preds = join(dir, 'preds');
  mkdirSync(preds);
  writeLabelPng(join(preds, 'a.png'), blockLabel(16, 12, 3));
});
afterAll(removeTempDirs);

describe('seg eval', () => {
  it('escapes control characters of ids in what it prints, as data check does', async () => {
    const r = await runSeg(['eval', '--predictions', preds, '--data', root]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/error: --predictions .*: 1 of 2 ids of split 'val' have no mask \(evil\\x1b\[2Jid\)/);
    expect(r.err).not.toContain('\u001b');
  });

  it('refuses a split that lists an id twice, naming the lines, and exits 1', async () => {
    writeLabelPng(join(preds, `${EVIL}.png`), blockLabel(16, 12, 3, 1));
    expect((await runSeg(['eval', '--predictions', preds, '--data', root])).code).toBe(0);
    const r = await runSeg(['eval', '--predictions', preds, '--data', root, '--split', 'twice']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/error: .*twice\.txt: id 'a' is listed 2 times \(lines 1, 3\); seg eval scores each image once/);
  });
});
