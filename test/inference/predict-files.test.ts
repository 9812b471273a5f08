import { tfjsEngine } from '../../src/inference/engines/tfjs.js';
import { lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf.js';
import { createHead } from '../../src/heads/head.js';
import { createModel } from '../../src/segmentation/model.js';
import { overlayMask, predictFiles } from '../../src/inference/predict-files.js';
import { IMAGENET_NORMALIZATION } from '../../src/data-loading/normalize.js';
import { readLabelPng } from '../../src/image/label-png.js';
import { gradientImage, removeTempDirs, tempDir, writeJpegFile } from '../datasets/fixtures.js';

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
});
afterAll(removeTempDirs);

describe('predictFiles', () => {
  it('writes a palette mask per image at its own size, skips non-images and reports unreadable ones', async () => {
    const dir = tempDir('seg-predict-');
    const input = join(dir, 'in');
    mkdirSync(join(input, 'nested'), { recursive: true });
    await writeJpegFile(join(input, 'one.jpg'), gradientImage(37, 21));
    await writeJpegFile(join(input, 'nested', 'two.jpg'), gradientImage(16, 30, 5));
    writeFileSync(join(input, 'notes.txt'), 'not an image');
    writeFileSync(join(input, 'broken.png'), 'not really a png');
    const model = createModel({ backbone: 'resnet18', outputStride: 16, width: 0.125, numClasses: 3, multiGrid: false }, 1);
    const head = createHead({ kind: 'softmax' }, 3);
    const before = tf.memory().numTensors;
    const result = await predictFiles(tfjsEngine(model), head, {
      inputs: [input],
      output: join(dir, 'out'),
      overlay: true,
      normalization: IMAGENET_NORMALIZATION,
    });
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
    expect(result.skipped).toEqual([join(input, 'notes.txt')]);
    expect(result.failed.map((f) => f.file)).toEqual([join(input, 'broken.png')]);
    expect(result.failed[0]?.error).toMatch(/broken.png/);
    expect(readdirSync(join(dir, 'out')).sort()).toEqual(['nested', 'one.png', 'one_overlay.jpg']);
    expect(readdirSync(join(dir, 'out', 'nested')).sort()).toEqual(['two.png', 'two_overlay.jpg']);
    const one = readLabelPng(join(dir, 'out', 'one.png'));
    expect([one.width, one.height]).toEqual([37, 21]);
    expect(Math.max(...one.data)).toBeLessThan(3);
  });

  it('refuses to write over an input, before writing anything', async () => {
    const dir = tempDir('seg-predict-');
    await writeJpegFile(join(dir, 'a.jpg'), gradientImage(8, 8));
    writeFileSync(join(dir, 'b.png'), 'x');
    const model = createModel({ backbone: 'resnet18', outputStride: 16, width: 0.125, numClasses: 2, multiGrid: false }, 1);
    // Listed files may share their folder with the output, but b.png's mask would be b.png itself.
    await expect(
      predictFiles(tfjsEngine(model), createHead({ kind: 'linear' }, 2), {
        inputs: [join(dir, 'a.jpg'), join(dir, 'b.png')],
        output: dir,
        normalization: IMAGENET_NORMALIZATION,
      }),
    ).rejects.toThrow(/b\.png: already exists and is not a mask seg wrote \(it is one of the inputs\)/);
    model.dispose();
    expect(readFileSync(join(dir, 'b.png'), 'utf8')).toBe('x');
    expect(readdirSync(dir).sort()).toEqual(['a.jpg', 'b.png']);
  });

  it('refuses a symlink or a foreign file at a mask path before predicting anything, and mirrors subfolders', async () => {
    const dir = tempDir('seg-predict-');
    const photos = join(dir, 'photos');
    mkdirSync(join(photos, 'sub'), { recursive: true });
    await writeJpegFile(join(photos, 'a.jpg'), gradientImage(12, 10));
    await writeJpegFile(join(photos, 'photo.jpg'), gradientImage(12, 10, 1));
    await writeJpegFile(join(photos, 'sub', 'photo.jpg'), gradientImage(12, 10, 2));
    writeFileSync(join(dir, 'precious.png'), 'keep me');
    const out = join(dir, 'out');
    mkdirSync(out);
    // A pre-existing symlink in the output pointing at a file elsewhere.
    symlinkSync(join(dir, 'precious.png'), join(out, 'a.png'));
    const model = createModel({ backbone: 'resnet18', outputStride: 16, width: 0.125, numClasses: 2, multiGrid: false }, 1);
    const head = createHead({ kind: 'softmax' }, 2);
    const options = { inputs: [photos], output: out, normalization: IMAGENET_NORMALIZATION };
    await expect(predictFiles(tfjsEngine(model), head, options)).rejects.toThrow(
      /a\.png: already exists and is not a mask seg wrote \(a symlink\)/,
    );
    expect(readFileSync(join(dir, 'precious.png'), 'utf8')).toBe('keep me');
    expect(lstatSync(join(out, 'a.png')).isSymbolicLink()).toBe(true);
    expect(readdirSync(out)).toEqual(['a.png']);
    rmSync(join(out, 'a.png'));
    const result = await predictFiles(tfjsEngine(model), head, options);
    expect(result.failed).toEqual([]);
    expect(readLabelPng(join(out, 'a.png')).width).toBe(12);
    expect(readdirSync(out).sort()).toEqual(['a.png', 'photo.png', 'sub']);
    expect(readdirSync(join(out, 'sub'))).toEqual(['photo.png']);
    // A rerun replaces the masks seg wrote.
    const rerun = await predictFiles(tfjsEngine(model), head, options);
    model.dispose();
    expect(rerun.written.length).toBe(3);
  });

  it('never replaces a photo beside a listed image (in6/photo.jpg -> in6/photo.png)', async () => {
    const dir = tempDir('seg-predict-');
    const in6 = join(dir, 'in6');
    mkdirSync(in6);
    await writeJpegFile(join(in6, 'photo.jpg'), gradientImage(12, 10));
    writeFileSync(join(in6, 'photo.png'), 'the user photo');
    const model = createModel({ backbone: 'resnet18', outputStride: 16, width: 0.125, numClasses: 2, multiGrid: false }, 1);
    await expect(
      predictFiles(tfjsEngine(model), createHead({ kind: 'softmax' }, 2), {
        inputs: [join(in6, 'photo.jpg')],
        output: in6,
        normalization: IMAGENET_NORMALIZATION,
      }),
    ).rejects.toThrow(/photo\.png: already exists and is not a mask seg wrote/);
    model.dispose();
    expect(readFileSync(join(in6, 'photo.png'), 'utf8')).toBe('the user photo');
  });

  it('reports an image whose inference runs out of memory and goes on with the rest', async () => {
    const dir = tempDir('seg-predict-');
    await writeJpegFile(join(dir, 'a_wide.jpg'), gradientImage(48, 10));
    await writeJpegFile(join(dir, 'b_small.jpg'), gradientImage(12, 10));
    const model = createModel({ backbone: 'resnet18', outputStride: 16, width: 0.125, numClasses: 2, multiGrid: false }, 1);
    const inner = createHead({ kind: 'softmax' }, 2);
    const head = {
      ...inner,
      spec: inner.spec,
      numClasses: inner.numClasses,
      lossAndGradient: inner.lossAndGradient.bind(inner),
      loss: inner.loss.bind(inner),
      predict: inner.predict.bind(inner),
      scores: (l: tf.Tensor4D): tf.Tensor4D => {
        if (l.shape[2] > 32) {
          const err = new Error('Aborted(). Build with -sASSERTIONS for more info.');
          err.name = 'RuntimeError';
          throw err;
        }
        return inner.scores(l);
      },
    };
    const result = await predictFiles(tfjsEngine(model), head, {
      inputs: [dir],
      output: join(dir, '..', `${basename(dir)}-out`),
      normalization: IMAGENET_NORMALIZATION,
    });
    model.dispose();
    expect(result.failed.map((f) => f.file)).toEqual([join(dir, 'a_wide.jpg')]);
    expect(result.failed[0]?.error).toMatch(/out of engine memory \(Aborted\(\)/);
    expect(result.written.map((f) => basename(f))).toEqual(['b_small.png']);
  });

  it('overlays palette colours, leaving background pixels as they are', () => {
    const rgb = Uint8Array.from([10, 20, 30, 200, 200, 200]);
    // class 1 is (128, 0, 0) in the VOC palette
    expect(Array.from(overlayMask(rgb, Uint8Array.from([0, 1]), 0.5))).toEqual([10, 20, 30, 164, 100, 100]);
  });
});
