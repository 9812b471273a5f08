import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkDataset } from '../../src/datasets/dataset-check.js';
import { FASHION_CLASSES, makeFashionDataset } from '../../src/dataset-makers/fashion-dataset.js';
import { decodeIdx, encodeIdx, writeIdx } from '../../src/file-readers/idx-file.js';
import { readLabelPng } from '../../src/image/label-png.js';
import { removeTempDirs, tempDir } from '../datasets/fixtures.js';

let source: string;

/** Items of `rows`x`cols`: a filled rectangle (value 220) with a faint rim, labelled from `labels`. */
function items(labels: number[], rows: number, cols: number): { images: Uint8Array; labels: Uint8Array } {
  const images = new Uint8Array(labels.length * rows * cols);
  labels.forEach((_, n) => {
    for (let y = 1; y < rows - 1; y++) {
      for (let x = 1; x < cols - 1; x++) images[n * rows * cols + y * cols + x] = y === 1 || x === 1 ? 10 : 220;
    }
  });
  return { images, labels: Uint8Array.from(labels) };
}

beforeAll(() => {
  source = join(tempDir(), 'fmnist');
  mkdirSync(source);
  // Train items only of Fashion-MNIST classes 0..2, test items only of 7..8: scenes must keep them apart.
  const train = items([0, 1, 2, 0, 1, 2, 0, 1], 10, 8);
  const test = items([7, 8, 7, 8], 10, 8);
  writeIdx(join(source, 'train-images-idx3-ubyte.gz'), { dims: [8, 10, 8], data: train.images });
  writeIdx(join(source, 'train-labels-idx1-ubyte.gz'), { dims: [8], data: train.labels });
  writeIdx(join(source, 't10k-images-idx3-ubyte'), { dims: [4, 10, 8], data: test.images }, false);
  writeIdx(join(source, 't10k-labels-idx1-ubyte.gz'), { dims: [4], data: test.labels });
});

afterAll(removeTempDirs);

describe('IDX files', () => {
  it('round-trip plain and gzipped, and refuse garbage by name', () => {
    const a = { dims: [2, 3], data: Uint8Array.from([1, 2, 3, 4, 5, 6]) };
    for (const gz of [true, false]) {
      const back = decodeIdx(encodeIdx(a, gz), 'x.idx');
      expect(back.dims).toEqual([2, 3]);
      expect(Array.from(back.data)).toEqual([1, 2, 3, 4, 5, 6]);
    }
    expect(() => decodeIdx(Buffer.from([1, 2, 3, 4]), 'bad.idx')).toThrow(/bad\.idx: not an IDX file/);
    expect(() => decodeIdx(encodeIdx(a, false).subarray(0, 14), 'cut.idx')).toThrow(/cut\.idx: truncated IDX data/);
  });
});

describe('makeFashionDataset', () => {
  it('composes scenes from the right split with 11 classes and void borders', async () => {
    const out = join(tempDir(), 'fashion');
    const made = await makeFashionDataset({ out, source, train: 6, val: 3, size: 48, seed: 4 });
    expect(made.splits.train.length).toBe(6);
    expect(made.splits.val.length).toBe(3);
    expect(readFileSync(join(out, 'classes.txt'), 'utf8').trim().split('\n')).toEqual([...FASHION_CLASSES]);
    expect(FASHION_CLASSES.length).toBe(11);

    const valuesIn = (ids: string[]): Set<number> => {
      const seen = new Set<number>();
      for (const id of ids) for (const v of readLabelPng(join(out, 'SegmentationClass', `${id}.png`)).data) seen.add(v);
      return seen;
    };
    const train = valuesIn(made.splits.train);
    const val = valuesIn(made.splits.val);
    // Class = 1 + Fashion-MNIST label; train scenes use train items (1..3), val scenes test items (8, 9).
    for (const v of train) expect([0, 1, 2, 3, 255]).toContain(v);
    for (const v of val) expect([0, 8, 9, 255]).toContain(v);
    expect(train.has(255)).toBe(true);
    expect([...train].some((v) => v >= 1 && v <= 3)).toBe(true);
    expect([...val].some((v) => v === 8 || v === 9)).toBe(true);

    const report = await checkDataset(out, 'trainval');
    expect(report.problems).toEqual([]);
    expect(report.images).toBe(9);
  });

  it('is deterministic by seed', async () => {
    const base = tempDir();
    await makeFashionDataset({ out: join(base, 'a'), source, train: 2, val: 1, size: 32, seed: 1 });
    await makeFashionDataset({ out: join(base, 'b'), source, train: 2, val: 1, size: 32, seed: 1 });
    for (const f of ['JPEGImages/train_00001.jpg', 'SegmentationClass/train_00001.png', 'SegmentationClass/val_00000.png']) {
      expect(readFileSync(join(base, 'a', f)).equals(readFileSync(join(base, 'b', f))), f).toBe(true);
    }
  });

  it('says how to get Fashion-MNIST when the source is missing', async () => {
    const out = join(tempDir(), 'none');
    await expect(makeFashionDataset({ out, source: join(source, 'absent'), train: 1, val: 1 })).rejects.toThrow(
      /apt-get install dataset-fashion-mnist.*--source DIR/,
    );
  });
});
