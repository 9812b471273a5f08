/** seg eval through the CLI on hostile datasets: ids with control characters, repeated ids, truncated images. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { openDataset } from '../../src/datasets/open-dataset.js';
import { loadSample } from '../../src/datasets/sample.js';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeLabelPng } from '../../src/image/label-png.js';
import { blockLabel, gradientImage, removeTempDirs, tempDir, writeVocFixture } from '../datasets/fixtures.js';
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

  it('a truncated JPEG gets one and the same message in data check and eval, however libvips words it', async () => {
    const dir = tempDir('seg-eval-truncated-');
    const samples = Array.from({ length: 8 }, (_, i) => ({
      id: `t${i}`,
      image: gradientImage(120, 90, i),
      label: blockLabel(120, 90, 3, i),
    }));
    const voc = await writeVocFixture(join(dir, 'voc'), samples, { val: samples.map((s) => s.id) }, ['bg', 'x', 'y']);
    // Cut each at another point: libvips reports "premature end", "Corrupt JPEG data" or only
    // "Warning treated as error due to failOn setting", depending on where and on its threads.
    samples.forEach((s, i) => {
      const file = join(voc, 'JPEGImages', `${s.id}.jpg`);
      const bytes = readFileSync(file);
      const cut = bytes.subarray(0, Math.floor((bytes.length * (i + 2)) / 11));
      writeFileSync(file, i % 2 === 0 ? cut : Buffer.concat([cut, Buffer.from([0xff, 0xd9])]));
    });
    const expected = (id: string): string =>
      `${join(voc, 'JPEGImages', `${id}.jpg`)}: truncated or corrupt image (its data ends early or is damaged); re-create or re-download it`;
    const check = await runSeg(['data', 'check', '--data', voc, '--split', 'val', '--json']);
    const report = JSON.parse(check.out) as { problems: { id: string; file: string; problem: string }[] };
    expect(report.problems.map((p) => `${p.file}: ${p.problem}`)).toEqual(samples.map((s) => expected(s.id)));
    for (const s of samples) await expect(loadSample(openDataset(voc), s.id)).rejects.toThrow(expected(s.id));
  });
});
