import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/random.js';
import { createEvalAugmenter, createTrainAugmenter, trainTransforms } from '../../src/data-loading/augmenter.js';
import { IMAGENET_MEAN, IMAGENET_STD, meanPixel, normalizeImage } from '../../src/data-loading/normalize.js';
import {
  applyTransforms,
  cropPair,
  flipPair,
  padTo,
  randomCrop,
  randomHorizontalFlip,
  randomScale,
  randomScaleCrop,
  resizeLabelNearest,
  scalePair,
  TRAIN_SCALES,
  type ImageLabelPair,
} from '../../src/data-loading/transforms.js';
import type { Sample } from '../../src/datasets/types.js';
import { blockLabel, gradientImage } from '../datasets/fixtures.js';

function pair(width: number, height: number, classes = 5): ImageLabelPair {
  return { width, height, image: gradientImage(width, height).data, label: blockLabel(width, height, classes).data };
}

function valuesOf(label: Uint8Array): number[] {
  return [...new Set(label)].sort((a, b) => a - b);
}

describe('resizeLabelNearest', () => {
  it('doubles and halves by picking pixel centres', () => {
    const label = Uint8Array.from([1, 2, 3, 4]); // 2x2
    expect(Array.from(resizeLabelNearest(label, 2, 2, 4, 4))).toEqual([1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
    const row = Uint8Array.from([0, 1, 2, 3, 4, 5]); // 6x1 -> 3x1 takes centres 1, 3, 5
    expect(Array.from(resizeLabelNearest(row, 6, 1, 3, 1))).toEqual([1, 3, 5]);
  });
});

describe('transforms keep label values: 255 survives, nothing new appears', () => {
  const p = pair(40, 30);
  const before = valuesOf(p.label);

  it('scaling (every training scale) only keeps existing values', async () => {
    expect(before).toContain(255);
    for (const s of TRAIN_SCALES) {
      const out = await scalePair(p, s);
      expect([out.width, out.height]).toEqual([Math.round(40 * s), Math.round(30 * s)]);
      expect(out.image.length).toBe(out.width * out.height * 3);
      const after = valuesOf(out.label);
      expect(after, `scale ${s}`).toContain(255);
      for (const v of after) expect(before).toContain(v);
    }
  });

  it('cropping and flipping move pixels exactly', () => {
    const c = cropPair(p, 3, 2, 5, 4);
    for (let y = 0; y < 4; y++) {
      for (let x = 0; x < 5; x++) {
        expect(c.label[y * 5 + x]).toBe(p.label[(y + 2) * 40 + x + 3]);
        expect(c.image[(y * 5 + x) * 3 + 1]).toBe(p.image[((y + 2) * 40 + x + 3) * 3 + 1]);
      }
    }
    const f = flipPair(p);
    const mid = 15 * 40; // the 255 row stays 255 after the flip
    expect(Array.from(f.label.subarray(mid, mid + 40)).every((v) => v === 255)).toBe(true);
    for (let x = 0; x < 40; x++) {
      expect(f.label[3 * 40 + x]).toBe(p.label[3 * 40 + 39 - x]);
      expect(f.image[(3 * 40 + x) * 3 + 2]).toBe(p.image[(3 * 40 + 39 - x) * 3 + 2]);
    }
    expect(Array.from(flipPair(f).label)).toEqual(Array.from(p.label));
  });

  it('does not mutate its input', async () => {
    const copy = Uint8Array.from(p.label);
    const imageCopy = Uint8Array.from(p.image);
    await applyTransforms(trainTransforms({ crop: 24 }), p, new Rng(3));
    expect(Array.from(p.label)).toEqual(Array.from(copy));
    expect(Buffer.from(p.image).equals(Buffer.from(imageCopy))).toBe(true);
  });
});

describe('padding', () => {
  it('pads bottom and right with the mean pixel and 255', async () => {
    const small = pair(4, 3);
    const fill = meanPixel();
    expect(fill).toEqual([124, 116, 104]);
    const out = await padTo(6, fill)(small, new Rng(0));
    expect([out.width, out.height]).toEqual([6, 6]);
    for (let y = 0; y < 6; y++) {
      for (let x = 0; x < 6; x++) {
        const i = y * 6 + x;
        if (x < 4 && y < 3) {
          expect(out.label[i]).toBe(small.label[y * 4 + x]);
          expect(out.image[i * 3]).toBe(small.image[(y * 4 + x) * 3]);
        } else {
          expect(out.label[i]).toBe(255);
          expect([out.image[i * 3], out.image[i * 3 + 1], out.image[i * 3 + 2]]).toEqual(fill);
        }
      }
    }
    // Already big enough: unchanged.
    expect(await padTo(3, fill)(small, new Rng(0))).toBe(small);
  });

  it('the mean pixel normalises to about zero', () => {
    const n = normalizeImage(Uint8Array.from(meanPixel()));
    for (const v of n) expect(Math.abs(v)).toBeLessThan(0.01);
  });
});

describe('random transforms', () => {
  it('random crops lie inside the pair and depend on the seed', async () => {
    const p = pair(40, 30);
    const crop = randomCrop(16);
    const seen = new Set<string>();
    for (let seed = 0; seed < 20; seed++) {
      const out = await crop(p, new Rng(seed));
      expect([out.width, out.height]).toEqual([16, 16]);
      seen.add(Buffer.from(out.label).toString('hex'));
    }
    expect(seen.size).toBeGreaterThan(5);
  });

  it('flips about half of the time', async () => {
    const p = pair(8, 4);
    const flip = randomHorizontalFlip(0.5);
    const rng = new Rng(1);
    let flipped = 0;
    for (let i = 0; i < 400; i++) if ((await flip(p, rng)) !== p) flipped++;
    expect(flipped).toBeGreaterThan(160);
    expect(flipped).toBeLessThan(240);
  });
});

describe('randomScaleCrop', () => {
  it('equals randomScale + padTo + randomCrop with the same draws (labels exactly, images to rounding)', async () => {
    const fill = meanPixel();
    for (const [w, h, crop] of [
      [40, 30, 24],
      [40, 30, 64],
      [21, 33, 30],
    ] as const) {
      const p = pair(w, h);
      const fused = randomScaleCrop(crop, fill);
      const steps = [randomScale(), padTo(crop, fill), randomCrop(crop)];
      for (let seed = 0; seed < 25; seed++) {
        const a = await fused(p, new Rng(seed));
        const b = await applyTransforms(steps, p, new Rng(seed));
        expect([a.width, a.height]).toEqual([crop, crop]);
        expect(Buffer.from(a.label).equals(Buffer.from(b.label)), `${w}x${h} crop ${crop} seed ${seed}`).toBe(true);
        let diff = 0;
        for (let i = 0; i < a.image.length; i++) diff = Math.max(diff, Math.abs((a.image[i] as number) - (b.image[i] as number)));
        expect(diff).toBeLessThanOrEqual(2);
      }
    }
  });
});

describe('augmenters', () => {
  const sample: Sample = { id: 'x', width: 40, height: 30, image: gradientImage(40, 30).data, label: blockLabel(40, 30, 5).data };

  it('train: crops of the requested size, labels only from the source plus 255, same seed same result', async () => {
    const augment = createTrainAugmenter({ crop: 48 });
    const before = valuesOf(sample.label);
    const a = await augment(sample, new Rng(7, 'augment'));
    const b = await augment(sample, new Rng(7, 'augment'));
    expect([a.width, a.height, a.image.length, a.label.length]).toEqual([48, 48, 48 * 48 * 3, 48 * 48]);
    expect(Buffer.from(a.label).equals(Buffer.from(b.label))).toBe(true);
    expect(Buffer.from(a.image.buffer).equals(Buffer.from(b.image.buffer))).toBe(true);
    // The source is at most 2x40 = 80 wide, 60 high; a 48 crop of a 0.5x scale (20x15) is mostly padding.
    for (let seed = 0; seed < 12; seed++) {
      const out = await augment(sample, new Rng(seed, 'augment'));
      for (const v of valuesOf(out.label)) expect([...before, 255]).toContain(v);
    }
  });

  it('eval: the whole image normalised with ImageNet mean/std, the label untouched', async () => {
    const s: Sample = { id: 'y', width: 2, height: 1, image: Uint8Array.from([255, 0, 128, 0, 255, 64]), label: Uint8Array.from([3, 255]) };
    const out = await createEvalAugmenter()(s, new Rng(0));
    expect(out.label).toBe(s.label);
    expect([out.width, out.height]).toEqual([2, 1]);
    const expected = [
      (1 - 0.485) / 0.229,
      (0 - 0.456) / 0.224,
      (128 / 255 - 0.406) / 0.225,
      (0 - 0.485) / 0.229,
      (1 - 0.456) / 0.224,
      (64 / 255 - 0.406) / 0.225,
    ];
    expected.forEach((v, i) => expect(out.image[i]).toBeCloseTo(v, 5));
    expect([...IMAGENET_MEAN]).toEqual([0.485, 0.456, 0.406]);
    expect([...IMAGENET_STD]).toEqual([0.229, 0.224, 0.225]);
  });
});
