import { execFileSync } from 'node:child_process';
import { symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { SegError } from '../../src/core/errors.js';
import { checkDataset } from '../../src/datasets/dataset-check.js';
import { decodeImage } from '../../src/image/image-io.js';
import { decodeLabelPng, loadLabelPng, readLabelPng } from '../../src/image/label-png.js';
import { gradientImage, pngOfChunks, removeTempDirs, tempDir, writeVocFixture } from '../datasets/fixtures.js';

afterAll(removeTempDirs);

/** An 8-bit grayscale PNG whose image data inflates to `raw` (any length). */
function pngWithRaw(width: number, height: number, raw: Uint8Array): Buffer {
  return pngOfChunks(width, height, 0, deflateSync(raw, { level: 9 }));
}

describe('decompression is capped at the image size', () => {
  const [w, h] = [80, 80];
  const expected = h * (w + 1);

  it('reads an exact image, and rejects a small zlib bomb without inflating it', async () => {
    expect(decodeLabelPng(pngWithRaw(w, h, new Uint8Array(expected)), 'ok.png').width).toBe(w);
    // 64 MiB of zeros deflate to about 64 KiB: 10,000 times the image's 6,480 bytes.
    const bomb = pngWithRaw(w, h, new Uint8Array(64 * 2 ** 20));
    expect(bomb.length).toBeLessThan(100_000);
    expect(() => decodeLabelPng(bomb, 'bomb.png')).toThrow(
      /bomb\.png: corrupt PNG \(image data inflates past the 6480 bytes of a 80x80 image/,
    );
    const dir = tempDir('seg-bomb-');
    writeFileSync(join(dir, 'bomb.png'), bomb);
    await expect(loadLabelPng(join(dir, 'bomb.png'))).rejects.toThrow(/inflates past the 6480 bytes/);
  });

  it('reports even a few bytes of extra data past the image', () => {
    expect(() => decodeLabelPng(pngWithRaw(w, h, new Uint8Array(expected + 3)), 'extra.png')).toThrow(/extra data after the image/);
  });
});

describe('only regular files are read', () => {
  it('reports a label linked to /dev/zero, a FIFO and a folder instead of hanging', async () => {
    const dir = tempDir('seg-special-');
    symlinkSync('/dev/zero', join(dir, 'zero.png'));
    execFileSync('mkfifo', [join(dir, 'fifo.png')]);
    await expect(loadLabelPng(join(dir, 'zero.png'))).rejects.toThrow(/zero\.png: label file is a device, not a regular file/);
    await expect(loadLabelPng(join(dir, 'fifo.png'))).rejects.toThrow(/FIFO/);
    expect(() => readLabelPng(join(dir, 'fifo.png'))).toThrow(SegError);
    expect(() => readLabelPng(dir)).toThrow(/a folder/);
    await expect(decodeImage(join(dir, 'fifo.png'))).rejects.toThrow(/image file is a FIFO/);
    await expect(decodeImage(join(dir, 'zero.png'))).rejects.toThrow(/image file is a device/);
  });

  it('data check lists such labels and the bomb as problems', async () => {
    const root = tempDir('seg-special-');
    const img = gradientImage(12, 10);
    const label = { width: 12, height: 10, data: new Uint8Array(120) };
    await writeVocFixture(
      root,
      [
        { id: 'good', image: img, label },
        { id: 'zero', image: img, label },
        { id: 'fifo', image: img, label },
        { id: 'bomb', image: img, label },
      ],
      { train: ['good', 'zero', 'fifo', 'bomb'] },
      ['background', 'a'],
    );
    const labels = join(root, 'SegmentationClass');
    const { rmSync } = await import('node:fs');
    for (const id of ['zero', 'fifo', 'bomb']) rmSync(join(labels, `${id}.png`));
    symlinkSync('/dev/zero', join(labels, 'zero.png'));
    execFileSync('mkfifo', [join(labels, 'fifo.png')]);
    writeFileSync(join(labels, 'bomb.png'), pngWithRaw(12, 10, new Uint8Array(16 * 2 ** 20)));
    const report = await checkDataset(root, 'train');
    const byId = Object.fromEntries(report.problems.map((p) => [p.id, p.problem]));
    expect(Object.keys(byId).sort()).toEqual(['bomb', 'fifo', 'zero']);
    expect(byId['zero']).toMatch(/device/);
    expect(byId['fifo']).toMatch(/FIFO/);
    expect(byId['bomb']).toMatch(/inflates past/);
  });
});
