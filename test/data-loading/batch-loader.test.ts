import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SegError } from '../../src/core/errors.js';
import { createEvalLoader, createTrainLoader } from '../../src/data-loading/batch-loader.js';
import type { Dataset } from '../../src/datasets/dataset.js';
import { openDataset } from '../../src/datasets/open-dataset.js';
import { writeLabelPng } from '../../src/image/label-png.js';
import type { Batch, LoaderState } from '../../src/data-loading/types.js';
import { blockLabel, gradientImage, removeTempDirs, tempDir, writeVocFixture } from '../datasets/fixtures.js';

let ds: Dataset;
const ids = Array.from({ length: 10 }, (_, i) => `img${i}`);

beforeAll(async () => {
  const root = tempDir();
  await writeVocFixture(
    root,
    ids.map((id, i) => ({ id, image: gradientImage(40, 30, i * 20), label: blockLabel(40, 30, 4, i) })),
    { train: ids, val: ids.slice(0, 4) },
    ['background', 'a', 'b', 'c'],
  );
  ds = openDataset(root);
});

afterAll(removeTempDirs);

async function take(n: number, options: { seed: number; resumeFrom?: LoaderState }): Promise<{ batches: Batch[]; states: LoaderState[] }> {
  const loader = createTrainLoader({
    dataset: ds,
    split: 'train',
    batchSize: 3,
    crop: 24,
    seed: options.seed,
    resumeFrom: options.resumeFrom,
  });
  const batches: Batch[] = [];
  const states: LoaderState[] = [];
  for (let i = 0; i < n; i++) {
    batches.push(await loader.nextBatch());
    states.push(loader.state());
  }
  loader.close();
  return { batches, states };
}

function same(a: Batch, b: Batch): boolean {
  return (
    a.ids.join() === b.ids.join() &&
    Buffer.from(a.images.buffer).equals(Buffer.from(b.images.buffer)) &&
    Buffer.from(a.labels.buffer).equals(Buffer.from(b.labels.buffer))
  );
}

describe('train loader', () => {
  it('yields NHWC float images and int32 labels of the crop size', async () => {
    const { batches } = await take(1, { seed: 1 });
    const b = batches[0] as Batch;
    expect(b.shape).toEqual([3, 24, 24]);
    expect(b.images.length).toBe(3 * 24 * 24 * 3);
    expect(b.labels.length).toBe(3 * 24 * 24);
    expect(b.images).toBeInstanceOf(Float32Array);
    expect(b.labels).toBeInstanceOf(Int32Array);
    for (const v of new Set(b.labels)) expect([0, 1, 2, 3, 255]).toContain(v);
    for (const v of b.images) expect(Math.abs(v)).toBeLessThan(3);
  });

  it('same seed gives identical batches, a different seed different ones', async () => {
    const a = await take(4, { seed: 5 });
    const b = await take(4, { seed: 5 });
    const c = await take(4, { seed: 6 });
    a.batches.forEach((batch, i) => expect(same(batch, b.batches[i] as Batch), `batch ${i}`).toBe(true));
    expect(a.batches.every((batch, i) => same(batch, c.batches[i] as Batch))).toBe(false);
    expect(a.batches.map((x) => x.ids.join()).join('|')).not.toBe(c.batches.map((x) => x.ids.join()).join('|'));
  });

  it('visits every id once per epoch, reshuffled each epoch, across batch boundaries', async () => {
    const { batches, states } = await take(7, { seed: 2 }); // 21 samples: 2 epochs of 10 and 1
    const order = batches.flatMap((b) => b.ids);
    expect([...order.slice(0, 10)].sort()).toEqual([...ids].sort());
    expect([...order.slice(10, 20)].sort()).toEqual([...ids].sort());
    expect(order.slice(0, 10).join()).not.toBe(order.slice(10, 20).join());
    expect(batches[3]?.epoch).toBe(0); // samples 9..11 start in epoch 0
    expect(batches[4]?.epoch).toBe(1);
    expect(states[6]).toMatchObject({ seed: 2, epoch: 2, position: 1, samples: 10 });
  });

  it('resumes exactly from a saved state, also mid-epoch', async () => {
    const full = await take(6, { seed: 9 });
    for (const cut of [1, 3]) {
      const state = JSON.parse(JSON.stringify(full.states[cut - 1]));
      const resumed = await take(6 - cut, { seed: 9, resumeFrom: state });
      resumed.batches.forEach((batch, i) => expect(same(batch, full.batches[cut + i] as Batch), `cut ${cut} batch ${i}`).toBe(true));
    }
  });

  it('refuses a state from another split or seed', async () => {
    const { states } = await take(1, { seed: 9 });
    const state = states[0] as LoaderState;
    expect(() => createTrainLoader({ dataset: ds, split: 'val', batchSize: 2, crop: 24, seed: 9, resumeFrom: state })).toThrow(
      /10 samples, this one has 4/,
    );
    expect(() => createTrainLoader({ dataset: ds, split: 'train', batchSize: 2, crop: 24, seed: 8, resumeFrom: state })).toThrow(
      /`seed` 9/,
    );
  });

  it('prefetches a bounded number of samples ahead', async () => {
    let opened = 0;
    const counting: Dataset = { ...ds, imagePath: (id) => (opened++, ds.imagePath(id)) };
    const loader = createTrainLoader({ dataset: counting, split: 'train', batchSize: 2, crop: 24, seed: 0, prefetch: 2 });
    await loader.nextBatch();
    await new Promise((r) => setTimeout(r, 50));
    // The batch handed out plus two prefetched ones: 3 batches of 2.
    expect(opened).toBe(6);
    await loader.nextBatch();
    expect(opened).toBe(8);
    loader.close();
  });

  it('reports a bad sample by file instead of skipping it', async () => {
    const root = tempDir();
    await writeVocFixture(root, [{ id: 'good', image: gradientImage(20, 20), label: blockLabel(20, 20, 2) }], { train: ['good', 'bad'] }, [
      'background',
      'a',
      'b',
    ]);
    writeFileSync(join(root, 'JPEGImages', 'bad.jpg'), Buffer.from(gradientImage(20, 20).data)); // raw bytes, not a JPEG
    writeLabelPng(join(root, 'SegmentationClass', 'bad.png'), blockLabel(20, 20, 2));
    const loader = createTrainLoader({ dataset: openDataset(root), split: 'train', batchSize: 2, crop: 16, seed: 0 });
    await expect(loader.nextBatch()).rejects.toThrow(SegError);
    loader.close();
    const again = createTrainLoader({ dataset: openDataset(root), split: 'train', batchSize: 2, crop: 16, seed: 0 });
    await expect(again.nextBatch()).rejects.toThrow(/bad\.jpg: cannot decode image/);
    again.close();
  });
});

describe('eval loader', () => {
  it('makes one pass in list order with whole normalised images and untouched labels', async () => {
    const loader = createEvalLoader({ dataset: ds, split: 'val' });
    expect(loader.size).toBe(4);
    const seen: string[] = [];
    for await (const s of loader) {
      seen.push(s.id);
      expect([s.width, s.height, s.image.length, s.rgb.length]).toEqual([40, 30, 3600, 3600]);
      const i = Number(s.id.slice(3));
      expect(Array.from(s.label)).toEqual(Array.from(blockLabel(40, 30, 4, i).data));
      expect(s.image[0]).toBeCloseTo(((s.rgb[0] as number) / 255 - 0.485) / 0.229, 5);
    }
    expect(seen).toEqual(['img0', 'img1', 'img2', 'img3']);
  });

  it('honours a limit', async () => {
    const loader = createEvalLoader({ dataset: ds, split: 'train', limit: 3 });
    let n = 0;
    for await (const s of loader) n += s.id.length > 0 ? 1 : 0;
    expect(n).toBe(3);
  });
});
