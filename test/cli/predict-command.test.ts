/** seg predict through the CLI on hostile layouts: what it refuses, what it says, and that it never loses a file. */
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf.js';
import { saveCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { createModel } from '../../src/segmentation/model.js';
import { IMAGENET_NORMALIZATION } from '../../src/data-loading/normalize.js';
import { gradientImage, removeTempDirs, tempDir, writeJpegFile } from '../datasets/fixtures.js';
import { runSeg } from './run-cli.js';

let dir: string;
let checkpoint: string;

beforeAll(async () => {
  dir = tempDir('seg-predict-cli-');
  await tf.setBackend('wasm');
  const model = createModel({ backbone: 'resnet18', outputStride: 16, width: 0.125, numClasses: 3, multiGrid: false }, 1);
  checkpoint = join(dir, 'ckpt');
  await saveCheckpoint(checkpoint, {
    model,
    head: { kind: 'softmax' },
    classNames: ['background', 'a', 'b'],
    normalization: IMAGENET_NORMALIZATION,
    iteration: 0,
  });
  model.dispose();
});
afterAll(removeTempDirs);

const predict = (...args: string[]) => runSeg(['predict', '--checkpoint', checkpoint, '--backend', 'wasm', '--engine', 'tfjs', ...args]);

describe('seg predict never replaces a file it did not write', () => {
  it('refuses in6/photo.jpg -> in6/photo.png when in6/photo.png is the user photo, and exits 1', async () => {
    const in6 = join(dir, 'in6');
    mkdirSync(in6);
    await writeJpegFile(join(in6, 'photo.jpg'), gradientImage(20, 16));
    await writeJpegFile(join(in6, 'b.jpg'), gradientImage(20, 16, 3));
    execFileSync('cp', [join(in6, 'b.jpg'), join(in6, 'photo.png')]);
    const before = readFileSync(join(in6, 'photo.png'));
    const r = await predict('--input', join(in6, 'photo.jpg'), '--output', in6);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/error: .*in6\/photo\.png: already exists and is not a mask seg wrote/);
    expect(readFileSync(join(in6, 'photo.png'))).toEqual(before);
    // A rerun replaces its own masks.
    const out = join(dir, 'out6');
    expect((await predict('--input', join(in6, 'photo.jpg'), '--output', out, '--overlay')).code).toBe(0);
    const again = await predict('--input', join(in6, 'photo.jpg'), '--output', out, '--overlay');
    expect(again.code, again.err).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['photo.png', 'photo_overlay.jpg']);
  });

  it('refuses --input P/photos --output P instead of skipping P/photos/sub', async () => {
    const photos = join(dir, 'P', 'photos');
    mkdirSync(join(photos, 'sub'), { recursive: true });
    await writeJpegFile(join(photos, 'a.jpg'), gradientImage(20, 16));
    await writeJpegFile(join(photos, 'sub', 'b.jpg'), gradientImage(20, 16, 1));
    const r = await predict('--input', photos, '--output', join(dir, 'P'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/error: --input .*P\/photos lies inside --output .*P;/);
    expect(readdirSync(join(dir, 'P'))).toEqual(['photos']);
    // A symlink from an input into the output is skipped, and said so.
    const walk = join(dir, 'walk');
    mkdirSync(walk);
    await writeJpegFile(join(walk, 'c.jpg'), gradientImage(20, 16, 2));
    const out = join(dir, 'walk-out');
    mkdirSync(out);
    symlinkSync(out, join(walk, 'masks'));
    const linked = await predict('--input', walk, '--output', out);
    expect(linked.code, linked.err).toBe(0);
    expect(linked.err).toMatch(/skipped .*walk\/masks: inside --output/);
    expect(linked.out).toMatch(/; 1 skipped, 0 failed/);
  });
});

describe('seg predict on a large image', () => {
  it('shows the progress of its windows, labelled with the image', async () => {
    const big = join(dir, 'big');
    mkdirSync(big);
    await writeJpegFile(join(big, 'wide.jpg'), gradientImage(96, 64));
    const r = await predict('--input', join(big, 'wide.jpg'), '--output', join(dir, 'big-out'), '--mode', 'slide', '--window', '24');
    expect(r.code, r.err).toBe(0);
    // 24-px windows at stride 16 over 64 x 96: 4 rows x 6 columns.
    expect(r.err).toMatch(/predict .*wide\.jpg windows 24\/24 /);
  });
});

describe('seg predict with an --output that cannot be created', () => {
  it.each([
    ['under a file', () => join(dir, 'a-file', 'masks'), /cannot create the folder: .*a-file is a file, not a folder/],
    [
      'on a file system that refuses it (/proc)',
      () => '/proc/seg-test-masks/out',
      /cannot create the folder \/proc\/seg-test-masks \(the file system refused it/,
    ],
  ])('%s: one error before the first image, exit 1', async (_what, output, message) => {
    if (output().startsWith('/proc') && process.platform !== 'linux') return;
    writeFileSync(join(dir, 'a-file'), 'x');
    const photos = join(dir, 'ro-photos');
    mkdirSync(photos, { recursive: true });
    await writeJpegFile(join(photos, 'a.jpg'), gradientImage(20, 16));
    await writeJpegFile(join(photos, 'b.jpg'), gradientImage(20, 16, 1));
    const r = await predict('--input', photos, '--output', output());
    expect(r.code).toBe(1);
    expect(r.err).toMatch(new RegExp(`error: --output .*${message.source}`));
    expect(r.err).not.toMatch(/failed|ENOENT|backend:/);
    expect(r.err.match(/error:/g)?.length).toBe(1);
  });
});

describe('seg predict: the small things', () => {
  it('an empty folder is an error; the same folder twice (or through a symlink) is predicted once; a FIFO is skipped', async () => {
    const empty = join(dir, 'empty-in');
    mkdirSync(join(empty, 'sub'), { recursive: true });
    const none = await predict('--input', empty, '--output', join(dir, 'empty-out'));
    expect(none.code).toBe(1);
    expect(none.err).toMatch(/error: --input: no image found \(\.jpg, \.jpeg, \.png, \.webp\) in .*empty-in/);
    const twice = join(dir, 'twice');
    mkdirSync(twice);
    await writeJpegFile(join(twice, 'a.jpg'), gradientImage(20, 16));
    symlinkSync(twice, join(dir, 'twice-link'));
    execFileSync('mkfifo', [join(twice, 'pipe.png')]);
    const r = await predict('--input', twice, twice, join(dir, 'twice-link'), join(twice, 'a.jpg'), '--output', join(dir, 'twice-out'));
    expect(r.code, r.err).toBe(0);
    expect(readdirSync(join(dir, 'twice-out'))).toEqual(['a.png']);
    expect(r.out).toMatch(/^1 mask written to .*twice-out; 1 skipped, 0 failed\n$/);
    expect(r.err).toMatch(/skipped .*pipe\.png: not a regular file \(FIFO, device or socket\)/);
    expect(r.err).not.toMatch(/failed/);
    // The progress line starts before the first image (so "done in" counts every image).
    expect(r.err).toMatch(/predict 0\/1 /);
  });
});
