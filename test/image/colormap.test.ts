import { describe, expect, it } from 'vitest';
import { crc32 } from '../../src/image/crc32.js';
import { vocColormap } from '../../src/image/colormap.js';

describe('vocColormap', () => {
  const map = vocColormap();
  const entry = (i: number): number[] => [map[i * 3] as number, map[i * 3 + 1] as number, map[i * 3 + 2] as number];

  it('has 256 RGB entries', () => {
    expect(map.length).toBe(768);
  });

  it('matches the VOC devkit table', () => {
    // Literal entries from the VOC devkit's labelcolormap (and every VOC SegmentationClass PNG).
    const table: Record<number, number[]> = {
      0: [0, 0, 0],
      1: [128, 0, 0],
      2: [0, 128, 0],
      3: [128, 128, 0],
      4: [0, 0, 128],
      5: [128, 0, 128],
      6: [0, 128, 128],
      7: [128, 128, 128],
      8: [64, 0, 0],
      9: [192, 0, 0],
      12: [64, 0, 128],
      15: [192, 128, 128],
      20: [0, 64, 128],
      21: [128, 64, 128],
      255: [224, 224, 192],
    };
    for (const [i, rgb] of Object.entries(table)) expect(entry(Number(i)), `entry ${i}`).toEqual(rgb);
  });
});

describe('crc32', () => {
  it('matches the standard check values', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new TextEncoder().encode('IEND'))).toBe(0xae426082);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });
});
