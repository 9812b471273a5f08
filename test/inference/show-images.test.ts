import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { blendSegmentation, showImagePng, sideBySide } from '../../src/inference/show-images.js';

describe('show images', () => {
  it("blends every pixel as mmseg's visualiser: 0.8 * palette colour + 0.2 * image", () => {
    const rgb = Uint8Array.of(100, 100, 100, 10, 200, 30, 50, 50, 50);
    // class 1 (aeroplane) is (128, 0, 0): 0.8 * 128 + 0.2 * 100 = 122.4 -> 122, 0.2 * 100 = 20.
    // class 0 (background, black): 0.2 * (10, 200, 30) = (2, 40, 6); void (224, 224, 192): 179.2 + 10 = 189.2 -> 189, 163.6 -> 164.
    const out = blendSegmentation(rgb, Uint8Array.of(1, 0, 255));
    expect([...out]).toEqual([122, 20, 20, 2, 40, 6, 189, 189, 164]);
  });

  it('puts ground truth left of prediction, row by row', async () => {
    const a = Uint8Array.of(1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4); // 2x2
    const b = Uint8Array.of(5, 5, 5, 6, 6, 6, 7, 7, 7, 8, 8, 8);
    expect([...sideBySide([a, b], 2, 2)]).toEqual([1, 1, 1, 2, 2, 2, 5, 5, 5, 6, 6, 6, 3, 3, 3, 4, 4, 4, 7, 7, 7, 8, 8, 8]);
    const png = await showImagePng(new Uint8Array(12).fill(100), Uint8Array.of(0, 1, 1, 0), Uint8Array.of(1, 1, 0, 0), 2, 2);
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([4, 2, 3]);
    // top row: gt (0, 1) | prediction (1, 1)
    expect([...data.subarray(0, 12)]).toEqual([20, 20, 20, 122, 20, 20, 122, 20, 20, 122, 20, 20]);
  });
});
