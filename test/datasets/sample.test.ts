import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SegError } from '../../src/core/errors.js';
import type { Dataset } from '../../src/datasets/dataset.js';
import { openDataset } from '../../src/datasets/open-dataset.js';
import { decodeImage } from '../../src/image/image-io.js';
import { encodeLabelPng, writeLabelPng } from '../../src/image/label-png.js';
import { loadSample } from '../../src/datasets/sample.js';
import { gradientImage, removeTempDirs, tempDir, writeVocFixture } from './fixtures.js';

let ds: Dataset;

beforeAll(async () => {
  const root = tempDir();
  const label = { width: 16, height: 12, data: Uint8Array.from({ length: 192 }, (_, i) => (i % 13 === 0 ? 255 : i % 3)) };
  await writeVocFixture(
    root,
    [
      { id: 'ok', image: gradientImage(16, 12), label },
      { id: 'mismatch', image: gradientImage(16, 12), label: { width: 12, height: 16, data: label.data } },
      { id: 'range', image: gradientImage(16, 12), label: { ...label, data: label.data.map((v, i) => (i === 5 ? 7 : v)) } },
      { id: 'truncated', image: gradientImage(16, 12), label },
      { id: 'garbage', image: gradientImage(16, 12), label },
    ],
    { train: ['ok'] },
    ['background', 'a', 'b'],
  );
  const jpeg = join(root, 'JPEGImages');
  const bytes = readFileSync(join(jpeg, 'truncated.jpg'));
  writeFileSync(join(jpeg, 'truncated.jpg'), bytes.subarray(0, Math.floor(bytes.length / 2)));
  writeFileSync(join(jpeg, 'garbage.jpg'), Buffer.from('this is not an image'));
  ds = openDataset(root);
});

afterAll(removeTempDirs);

async function expectRejects(promise: Promise<unknown>, ...parts: string[]): Promise<void> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(SegError);
  for (const part of parts) expect((caught as SegError).message).toContain(part);
}

describe('loadSample', () => {
  it('decodes image and label of one id', async () => {
    const s = await loadSample(ds, 'ok');
    expect([s.width, s.height, s.image.length, s.label.length]).toEqual([16, 12, 16 * 12 * 3, 16 * 12]);
    expect(s.label[0]).toBe(255);
    expect(s.label[1]).toBe(1);
    expect(s.label[2]).toBe(2);
  });

  it('rejects an image/label size mismatch naming the label file', async () => {
    await expectRejects(loadSample(ds, 'mismatch'), 'mismatch.png', 'image is 16x12 but its label is 12x16');
  });

  it('rejects label values outside 0..K-1 that are not 255, naming the file and value', async () => {
    await expectRejects(loadSample(ds, 'range'), 'range.png', 'label values 7 (1 px) outside 0..2');
  });

  it('rejects truncated and undecodable images, and missing files', async () => {
    await expectRejects(loadSample(ds, 'truncated'), 'truncated.jpg', 'truncated or corrupt image');
    await expectRejects(loadSample(ds, 'garbage'), 'garbage.jpg', 'cannot decode image');
    await expectRejects(loadSample(ds, 'absent'), 'absent.png', 'not found', 'SegmentationClassAug');
  });

  it('rejects a missing image while its label exists', async () => {
    writeLabelPng(join(ds.root, 'SegmentationClass', 'lonely.png'), { width: 2, height: 2, data: new Uint8Array(4) });
    await expectRejects(loadSample(ds, 'lonely'), 'lonely.jpg', 'image file not found');
  });
});

describe('decodeImage', () => {
  it('turns gray JPEGs, palette PNGs and RGBA PNGs into RGB', async () => {
    const dir = tempDir();
    const gray = Buffer.from(Uint8Array.from({ length: 64 }, (_, i) => i * 4));
    await sharp(gray, { raw: { width: 8, height: 8, channels: 1 } })
      .jpeg({ quality: 100 })
      .toFile(join(dir, 'g.jpg'));
    const g = await decodeImage(join(dir, 'g.jpg'));
    expect([g.width, g.height, g.data.length]).toEqual([8, 8, 192]);
    expect(Math.abs((g.data[3 * 10] as number) - 40)).toBeLessThanOrEqual(3);
    expect(g.data[3 * 10]).toBe(g.data[3 * 10 + 1]);

    // A palette PNG used as an image gives the palette colours.
    writeFileSync(join(dir, 'p.png'), encodeLabelPng({ width: 2, height: 1, data: Uint8Array.from([1, 15]) }));
    const p = await decodeImage(join(dir, 'p.png'));
    expect(Array.from(p.data)).toEqual([128, 0, 0, 192, 128, 128]);

    const rgba = Buffer.from([10, 20, 30, 40, 50, 60, 70, 80]);
    await sharp(rgba, { raw: { width: 2, height: 1, channels: 4 } })
      .png()
      .toFile(join(dir, 'a.png'));
    expect(Array.from((await decodeImage(join(dir, 'a.png'))).data)).toEqual([10, 20, 30, 50, 60, 70]);
  });
});
