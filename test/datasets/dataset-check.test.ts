import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkDataset, formatCheckReport } from '../../src/datasets/dataset-check.js';
import { writeLabelPng } from '../../src/image/label-png.js';
import { gradientImage, removeTempDirs, tempDir, writeJpegFile, writeVocFixture } from './fixtures.js';

let root: string;

beforeAll(async () => {
  root = tempDir();
  const label = (w: number, h: number, fill: number): { width: number; height: number; data: Uint8Array } => {
    const data = new Uint8Array(w * h).fill(fill);
    data[0] = 255;
    return { width: w, height: h, data };
  };
  const img = gradientImage(12, 10);
  await writeVocFixture(
    root,
    [
      { id: 'good', image: img, label: label(12, 10, 1) },
      { id: 'mismatch', image: img, label: label(10, 12, 1) },
      { id: 'range', image: img, label: { ...label(12, 10, 2), data: label(12, 10, 2).data.fill(9, 0, 3) } },
      { id: 'cutpng', image: img, label: label(12, 10, 1) },
      { id: 'badjpg', image: img, label: label(12, 10, 1) },
      { id: 'rgblabel', image: img, label: label(12, 10, 1) },
    ],
    {
      train: ['good', 'mismatch', 'range', 'noimage', 'nolabel', 'cutpng', 'badjpg', 'rgblabel', 'good'],
      clean: ['good'],
      empty: [],
    },
    ['background', 'a', 'b'],
  );
  writeLabelPng(join(root, 'SegmentationClass', 'noimage.png'), label(12, 10, 1));
  await writeJpegFile(join(root, 'JPEGImages', 'nolabel.jpg'), img);
  const png = readFileSync(join(root, 'SegmentationClass', 'cutpng.png'));
  writeFileSync(join(root, 'SegmentationClass', 'cutpng.png'), png.subarray(0, png.length - 30));
  writeFileSync(join(root, 'JPEGImages', 'badjpg.jpg'), Buffer.from('definitely not a jpeg'));
  // An RGB PNG as label: colours, not indices.
  const { default: sharp } = await import('sharp');
  await sharp(Buffer.alloc(12 * 10 * 3, 128), { raw: { width: 12, height: 10, channels: 3 } })
    .png()
    .toFile(join(root, 'SegmentationClass', 'rgblabel.png'));
});

afterAll(removeTempDirs);

describe('checkDataset', () => {
  it('reports every problem, not only the first, with ids and files', async () => {
    const report = await checkDataset(root, 'train');
    const byId = (id: string): string[] => report.problems.filter((p) => p.id === id).map((p) => p.problem);
    expect(report.listed).toBe(9);
    expect(byId('good')).toEqual(["id 'good' is listed more than once"]);
    expect(byId('mismatch')).toEqual(['image is 12x10 but its label is 10x12']);
    expect(byId('range')).toEqual(['label values 9 (3 px) outside 0..2 and not 255 (void) (the dataset has 3 classes)']);
    expect(byId('noimage')).toEqual(['image file not found']);
    expect(byId('nolabel')[0]).toMatch(/label file not found/);
    expect(byId('cutpng')[0]).toMatch(/truncated PNG/);
    expect(byId('badjpg')[0]).toMatch(/cannot decode image/);
    expect(byId('rgblabel')[0]).toMatch(/label PNG is RGB/);
    expect(report.problems.length).toBe(8);
    const files = report.problems.map((p) => p.file);
    expect(files).toContain(join(report.root, 'JPEGImages', 'noimage.jpg'));
    expect(files).toContain(join(report.root, 'SegmentationClass', 'cutpng.png'));
  });

  it('counts images, sizes, class pixels and void', async () => {
    const report = await checkDataset(root, 'train');
    // Decoded images: good, mismatch, range, nolabel, cutpng, rgblabel (not noimage, badjpg).
    expect(report.images).toBe(6);
    expect(report.sizes).toEqual({ width: { min: 12, max: 12 }, height: { min: 10, max: 10 } });
    // Decoded labels: good (1s), range (2s with two 9s), noimage (1s), badjpg (1s); mismatch's
    // header declares another size than its image, so it is never inflated.
    expect(report.classes).toEqual([
      { name: 'background', pixels: 0, images: 0 },
      { name: 'a', pixels: 3 * 119, images: 3 },
      { name: 'b', pixels: 117, images: 1 },
    ]);
    expect(report.void_pixels).toBe(3); // good, noimage, badjpg; range's void pixel was overwritten by a 9
  });

  it('a clean split has no problems; missing and empty lists are problems', async () => {
    expect((await checkDataset(root, 'clean')).problems).toEqual([]);
    const missing = await checkDataset(root, 'test');
    expect(missing.problems).toEqual([
      {
        id: null,
        file: join(missing.root, 'ImageSets', 'Segmentation', 'test.txt'),
        problem: 'split list not found (lists here: clean, empty, train)',
      },
    ]);
    const empty = await checkDataset(root, 'empty');
    expect(empty.problems[0]?.problem).toMatch(/the split list is empty/);
    expect(formatCheckReport(empty)).toMatch(/1 problem:/);
  });
});
