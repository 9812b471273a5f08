import { afterAll, describe, expect, it } from 'vitest';
import { SegError } from '../../src/core/errors.js';
import { checkDataset } from '../../src/datasets/dataset-check.js';
import {
  applyLabelMap,
  identityLabelMap,
  labelLookup,
  reduceZeroLabelMap,
  withLabelMap,
  withPalette,
} from '../../src/datasets/label-map.js';
import { openDataset } from '../../src/datasets/open-dataset.js';
import { loadSample } from '../../src/datasets/sample.js';
import { createEvalLoader } from '../../src/data-loading/batch-loader.js';
import { writeLabelPng } from '../../src/image/label-png.js';
import { gradientImage, removeTempDirs, tempDir, writeVocFixture } from './fixtures.js';
import { evaluatePredictions } from '../../src/inference/evaluate.js';
import { blendSegmentation } from '../../src/inference/show-images.js';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';

afterAll(removeTempDirs);

/** A 4x2 label holding the stored values 0, 1, 2, 7, 24, 26, 33, 255 once each. */
const STORED = Uint8Array.from([0, 1, 2, 7, 24, 26, 33, 255]);

async function tinyDataset(classes: readonly string[]): Promise<string> {
  return writeVocFixture(
    tempDir(),
    [{ id: 'x', image: gradientImage(4, 2), label: { width: 4, height: 2, data: STORED } }],
    { val: ['x'] },
    classes,
  );
}

describe('label maps', () => {
  it('reduce-zero-label: 0 -> void, k -> k-1, void stays void', () => {
    expect([...applyLabelMap(STORED, reduceZeroLabelMap())]).toEqual([255, 0, 1, 6, 23, 25, 32, 255]);
    expect(applyLabelMap(STORED, undefined)).toBe(STORED);
    expect([...applyLabelMap(STORED, identityLabelMap())]).toEqual([...STORED]);
  });

  it("a lookup table maps Cityscapes' labelIds to trainIds, the rest void", () => {
    // Cityscapes: road 7 -> 0, car 26 -> 13, person 24 -> 11, bicycle 33 -> 18; ego vehicle 1 and others ignored.
    const map = labelLookup([
      [7, 0],
      [24, 11],
      [26, 13],
      [33, 18],
    ]);
    expect([...applyLabelMap(STORED, map)]).toEqual([255, 255, 255, 0, 11, 13, 18, 255]);
    expect(() => labelLookup([[256, 0]])).toThrow(SegError);
    expect(() => labelLookup([[3, -1]])).toThrow(/class of value 3 -1 is not a label value/);
    expect(() => applyLabelMap(STORED, new Uint8Array(10))).toThrow(/10 entries; expected 256/);
  });

  it('a dataset with a label map reads mapped labels in samples, the eval loader, data check and scored masks', async () => {
    const classes = Array.from({ length: 19 }, (_, i) => (i === 0 ? 'road' : `c${i}`));
    const root = await tinyDataset(classes);
    const raw = openDataset(root);
    // Stored values 24..33 are outside the 19 classes: unmapped, the sample is refused.
    await expect(loadSample(raw, 'x')).rejects.toThrow(/label values 24 \(1 px\), 26 \(1 px\), 33 \(1 px\) outside 0\.\.18/);
    const ds = withLabelMap(
      raw,
      labelLookup([
        [7, 0],
        [24, 11],
        [26, 13],
        [33, 18],
      ]),
    );
    expect(raw.labelMap).toBeUndefined();
    const expected = [255, 255, 255, 0, 11, 13, 18, 255];
    expect([...(await loadSample(ds, 'x')).label]).toEqual(expected);
    const loader = createEvalLoader({ dataset: ds, split: 'val' });
    const first = await loader.next();
    expect([...(first.value as { label: Uint8Array }).label]).toEqual(expected);
    await loader.return?.();
    const report = await checkDataset(ds, 'val');
    expect(report.problems).toEqual([]);
    expect(report.classes[11]?.pixels).toBe(1);
    expect(report.classes[0]?.pixels).toBe(1);
    // Scoring saved masks compares them with the mapped label: a mask equal to it is perfect.
    const predictions = join(tempDir(), 'masks');
    mkdirSync(predictions);
    writeLabelPng(join(predictions, 'x.png'), { width: 4, height: 2, data: Uint8Array.from(expected.map((v) => (v === 255 ? 0 : v))) });
    const scored = await evaluatePredictions(predictions, ds, 'val');
    expect(scored.metrics.aAcc).toBe(1);
  });

  it('maps compose: a second map applies after the first', () => {
    const ds = withLabelMap(withLabelMap({ labelMap: undefined } as never, reduceZeroLabelMap()), labelLookup([[0, 5]], 255));
    // 1 -> 0 (reduce) -> 5 (lookup); 0 -> 255 -> 255.
    expect(ds.labelMap?.[1]).toBe(5);
    expect(ds.labelMap?.[0]).toBe(255);
    expect(ds.labelMap?.[2]).toBe(255);
  });

  it("a dataset's palette is VOC's by default and can be replaced", async () => {
    const ds = openDataset(await tinyDataset(['background', 'thing']));
    expect([...ds.palette.subarray(0, 6)]).toEqual([0, 0, 0, 128, 0, 0]);
    const mine = new Uint8Array(768).fill(9);
    expect(withPalette(ds, mine).palette[4]).toBe(9);
    expect(() => withPalette(ds, new Uint8Array(3))).toThrow(/768/);
    // --show-dir pictures blend the dataset's palette: at alpha 1 a pixel is its class's colour.
    const blended = blendSegmentation(Uint8Array.from([10, 20, 30]), Uint8Array.from([1]), 1, withPalette(ds, mine).palette);
    expect([...blended]).toEqual([9, 9, 9]);
  });
});
