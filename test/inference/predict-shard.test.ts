import { tfjsEngine } from '../../src/inference/engines/tfjs.js';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf.js';
import { createHead } from '../../src/heads/head.js';
import { predictShard, sortedInputs } from '../../src/inference/predict-shard.js';
import { planPredictOutputs } from '../../src/inference/predict-paths.js';
import { createModel } from '../../src/segmentation/model.js';
import { IMAGENET_NORMALIZATION } from '../../src/data-loading/normalize.js';
import { gradientImage, removeTempDirs, tempDir, writeJpegFile } from '../datasets/fixtures.js';
import sharp from 'sharp';

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
});
afterAll(removeTempDirs);

const identity = { path: '/ck', iteration: 1, modelSha256: 'c'.repeat(64) };

describe('predictShard', () => {
  it('shards share one plan: mask names never depend on the shard, inputs are never written, output inside the input is refused', async () => {
    const root = tempDir('seg-predict-shard-');
    const dir = join(root, 'in');
    mkdirSync(dir);
    await writeJpegFile(join(dir, 'a.jpg'), gradientImage(8, 8));
    await writeJpegFile(join(dir, 'b.jpg'), gradientImage(8, 8, 3));
    await sharp(Buffer.from(gradientImage(8, 8, 5).data), { raw: { width: 8, height: 8, channels: 3 } })
      .png()
      .toFile(join(dir, 'b.png'));
    const before = readFileSync(join(dir, 'b.png'));
    const plan = planPredictOutputs([dir], join(root, 'out'));
    expect(sortedInputs(plan).files).toEqual(['a.jpg', 'b.jpg', 'b.png'].map((f) => join(dir, f)));
    const model = createModel({ backbone: 'resnet18', outputStride: 16, width: 0.125, numClasses: 2, multiGrid: false }, 1);
    const head = createHead({ kind: 'softmax' }, 2);
    const common = { inputs: [dir], output: join(root, 'out'), normalization: IMAGENET_NORMALIZATION, checkpoint: identity };
    const first = await predictShard(tfjsEngine(model), head, { ...common, shard: { index: 0, count: 2 } });
    const second = await predictShard(tfjsEngine(model), head, { ...common, shard: { index: 1, count: 2 } });
    // a.jpg and b.jpg | b.png; b.jpg and b.png keep their extensions in their mask names in both shards.
    expect(first.manifest.done.map((d) => d.mask)).toEqual([join(root, 'out', 'a.png'), join(root, 'out', 'b.jpg.png')]);
    expect(second.manifest.done.map((d) => d.mask)).toEqual([join(root, 'out', 'b.png.png')]);
    expect([first.manifest.failed, second.manifest.failed]).toEqual([[], []]);
    expect(readFileSync(join(dir, 'b.png')).equals(before)).toBe(true);
    await expect(
      predictShard(tfjsEngine(model), head, { ...common, output: join(dir, 'masks'), shard: { index: 0, count: 2 } }),
    ).rejects.toThrow(/inside/);
    model.dispose();
  });

  it('refuses to continue a shard started with another checkpoint', async () => {
    const dir = tempDir('seg-predict-shard-');
    await writeJpegFile(join(dir, 'x.jpg'), gradientImage(8, 8));
    const model = createModel({ backbone: 'resnet18', outputStride: 16, width: 0.125, numClasses: 2, multiGrid: false }, 1);
    const head = createHead({ kind: 'softmax' }, 2);
    const common = {
      inputs: [join(dir, 'x.jpg')],
      output: join(dir, 'out'),
      normalization: IMAGENET_NORMALIZATION,
      shard: { index: 0, count: 1 },
    };
    const run = await predictShard(tfjsEngine(model), head, { ...common, checkpoint: identity });
    expect(run.manifest.done).toHaveLength(1);
    const again = await predictShard(tfjsEngine(model), head, { ...common, checkpoint: identity });
    expect([again.resumed, again.written.length]).toEqual([1, 0]);
    await expect(predictShard(tfjsEngine(model), head, { ...common, checkpoint: { ...identity, iteration: 2 } })).rejects.toThrow(
      /seg-predict-shard-0-of-1.json: this shard was started with checkpoint \/ck \(iteration 1, .*not \/ck \(iteration 2/,
    );
    model.dispose();
  });
});
