import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkDataset } from '../../src/datasets/dataset-check.js';
import { openDataset } from '../../src/datasets/open-dataset.js';
import { readLabelPng } from '../../src/image/label-png.js';
import { drawSynthScene, makeSynthDataset, SYNTH_CLASSES } from '../../src/dataset-makers/synth-dataset.js';
import { Rng } from '../../src/core/random.js';
import { removeTempDirs, tempDir } from '../datasets/fixtures.js';

afterAll(removeTempDirs);

/** True when no two 4-neighbours carry different non-void classes: the void band separates them. */
function bordersAreVoid(label: Uint8Array, width: number, height: number): boolean {
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = label[y * width + x] as number;
      if (v === 255) continue;
      const right = x + 1 < width ? (label[y * width + x + 1] as number) : v;
      const down = y + 1 < height ? (label[(y + 1) * width + x] as number) : v;
      if ((right !== v && right !== 255) || (down !== v && down !== 255)) return false;
    }
  }
  return true;
}

describe('makeSynthDataset', () => {
  it('writes a checkable VOC-layout dataset quickly (64 train + 16 val at 96 px)', async () => {
    const out = join(tempDir(), 'synth');
    const start = Date.now();
    const made = await makeSynthDataset({ out, train: 64, val: 16, size: 96, seed: 3 });
    const seconds = (Date.now() - start) / 1000;
    expect(seconds).toBeLessThan(20); // a couple of seconds on 2 shared cores; generous against load
    expect(made.splits.train.length).toBe(64);
    expect(made.splits.val.length).toBe(16);
    expect(made.splits.trainval.length).toBe(80);
    expect(readFileSync(join(out, 'classes.txt'), 'utf8')).toBe(`${SYNTH_CLASSES.join('\n')}\n`);
    const ds = openDataset(out);
    expect(ds.classNames).toEqual([...SYNTH_CLASSES]);
    expect(ds.listSplit('val')).toEqual(made.splits.val);

    const report = await checkDataset(out, 'trainval');
    expect(report.problems).toEqual([]);
    expect(report.images).toBe(80);
    expect(report.sizes).toEqual({ width: { min: 96, max: 96 }, height: { min: 96, max: 96 } });
    const total = report.classes.reduce((a, c) => a + c.pixels, 0) + report.void_pixels;
    expect(total).toBe(80 * 96 * 96);
    expect(report.void_pixels).toBeGreaterThan(0);
    for (const c of report.classes) expect(c.images, c.name).toBeGreaterThan(0);
    expect(report.classes[0]?.images).toBe(80);

    for (const id of made.splits.train.slice(0, 10)) {
      const label = readLabelPng(ds.labelPath(id));
      expect(bordersAreVoid(label.data, 96, 96), id).toBe(true);
    }
  });

  it('is deterministic by seed', async () => {
    const base = tempDir();
    await makeSynthDataset({ out: join(base, 'a'), train: 3, val: 1, size: 32, seed: 1 });
    await makeSynthDataset({ out: join(base, 'b'), train: 3, val: 1, size: 32, seed: 1 });
    await makeSynthDataset({ out: join(base, 'c'), train: 3, val: 1, size: 32, seed: 2 });
    const file = (d: string, f: string): Buffer => readFileSync(join(base, d, f));
    for (const f of ['JPEGImages/train_00002.jpg', 'SegmentationClass/train_00002.png', 'SegmentationClass/val_00000.png']) {
      expect(file('a', f).equals(file('b', f)), f).toBe(true);
    }
    expect(file('a', 'JPEGImages/train_00002.jpg').equals(file('c', 'JPEGImages/train_00002.jpg'))).toBe(false);
  });

  it('draws each class with its own hue', () => {
    // Mean colour per class over many scenes: each object class leans towards its hue.
    const sums = SYNTH_CLASSES.map(() => [0, 0, 0, 0]);
    for (let k = 0; k < 30; k++) {
      const { image, label } = drawSynthScene(48, 48, new Rng(k, 'hue-test'));
      label.data.forEach((c, i) => {
        const s = sums[c];
        if (s === undefined) return;
        for (let ch = 0; ch < 3; ch++) s[ch] = (s[ch] as number) + (image.data[i * 3 + ch] as number);
        s[3] = (s[3] as number) + 1;
      });
    }
    const mean = sums.map((s) => [0, 1, 2].map((ch) => (s[ch] as number) / Math.max(1, s[3] as number)));
    const [r1, g1, b1] = mean[1] as number[]; // disc: red
    expect(r1).toBeGreaterThan((g1 as number) + 40);
    expect(r1).toBeGreaterThan((b1 as number) + 40);
    const [r2, , b2] = mean[2] as number[]; // square: blue
    expect(b2).toBeGreaterThan((r2 as number) + 40);
    const [r3, g3] = mean[3] as number[]; // triangle: green
    expect(g3).toBeGreaterThan((r3 as number) + 40);
  });

  it('refuses a non-empty output folder unless asked to overwrite', async () => {
    const out = join(tempDir(), 'synth');
    await makeSynthDataset({ out, train: 1, val: 1, size: 16 });
    await expect(makeSynthDataset({ out, train: 1, val: 1, size: 16 })).rejects.toThrow(/not empty.*--overwrite/);
    await expect(makeSynthDataset({ out, train: 1, val: 1, size: 16, overwrite: true })).resolves.toBeDefined();
  });
});
