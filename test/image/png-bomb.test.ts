/**
 * Label PNGs whose header declares a huge image (decompression bombs, or absurd headers with
 * a tiny data block): refused from the header, before anything is inflated, naming the
 * declared size and the limit; a declared size that differs from the image's (or the
 * label's, for a predicted mask) is found from the headers too. The IDAT blocks here are
 * junk: had seg inflated them first, the error would be "does not decompress" instead.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_IMAGE_PIXELS } from '../../src/image/pixel-limit.js';
import { decodeLabelPng, loadLabelPng, readLabelPng } from '../../src/image/label-png.js';
import { openDataset } from '../../src/datasets/open-dataset.js';
import { loadSample } from '../../src/datasets/sample.js';
import { checkDataset } from '../../src/datasets/dataset-check.js';
import { evaluatePredictions } from '../../src/inference/evaluate.js';
import { blockLabel, gradientImage, pngOfChunks, removeTempDirs, tempDir, writeVocFixture } from '../datasets/fixtures.js';
import { writeLabelPng } from '../../src/image/label-png.js';
import { runSeg } from '../cli/run-cli.js';

/** A palette PNG header declaring width x height, with a few junk bytes as its image data. */
function declaredPng(width: number, height: number): Buffer {
  return pngOfChunks(width, height, 3, Buffer.from([0x78, 0x9c, 1, 2, 3, 4, 5]), new Uint8Array(768));
}

let root: string;

beforeAll(async () => {
  root = join(tempDir('seg-png-bomb-'), 'voc');
  await writeVocFixture(
    root,
    [
      { id: 'a', image: gradientImage(40, 30), label: blockLabel(40, 30, 3) },
      { id: 'b', image: gradientImage(40, 30, 2), label: blockLabel(40, 30, 3, 1) },
    ],
    { val: ['a', 'b'] },
    ['bg', 'x', 'y'],
  );
});
afterAll(removeTempDirs);

describe('a label PNG that declares more pixels than seg reads', () => {
  it.each([
    [32768, 65535],
    [60000, 60000],
    [100000, 100000],
    [2 ** 31, 2 ** 31],
  ])('%ix%i is refused from its header, naming the declared size and the limit', async (w, h) => {
    const bytes = declaredPng(w, h);
    const message = new RegExp(
      `x\\.png: label PNG declares ${w}x${h} pixels \\(${(w * h).toLocaleString('en-US')}\\), more than seg reads: ` +
        `${MAX_IMAGE_PIXELS.toLocaleString('en-US')} pixels \\(16383x16383, as for images\\)`,
    );
    expect(() => decodeLabelPng(bytes, 'x.png')).toThrow(message);
    const file = join(root, '..', 'x.png');
    writeFileSync(file, bytes);
    expect(() => readLabelPng(file)).toThrow(message);
    await expect(loadLabelPng(file)).rejects.toThrow(message);
  });
});

describe('a label whose declared size differs from its image', () => {
  it('is found from the headers before the label is inflated: loadSample, data check and eval --predictions', async () => {
    writeFileSync(join(root, 'SegmentationClass', 'b.png'), declaredPng(4000, 3000));
    const dataset = openDataset(root);
    await expect(loadSample(dataset, 'b')).rejects.toThrow(/b\.png: image is 40x30 but its label is 4000x3000/);
    const report = await checkDataset(dataset, 'val');
    expect(report.problems.map((p) => [p.id, p.problem])).toEqual([['b', 'image is 40x30 but its label is 4000x3000']]);
    // A predicted mask bigger than its label: found from the two headers.
    writeLabelPng(join(root, 'SegmentationClass', 'b.png'), blockLabel(40, 30, 3, 1));
    const preds = join(root, '..', 'preds');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(preds);
    writeLabelPng(join(preds, 'a.png'), blockLabel(40, 30, 3));
    writeFileSync(join(preds, 'b.png'), declaredPng(16000, 16000));
    await expect(evaluatePredictions(preds, dataset, 'val')).rejects.toThrow(
      /b\.png: mask for id 'b' is 16000x16000, its label .*b\.png is 40x30; masks must have the label's size/,
    );
    const check = await runSeg(['data', 'check', '--data', root, '--split', 'val']);
    expect(check.code).toBe(0);
  });
});
