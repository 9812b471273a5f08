/** tools/seg-logits.mjs: seg's logits (and the aux classifier's) of one dataset image, for `torchvision_roundtrip.py compare`. */
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf.js';
import { saveCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { readSafetensors, toFloat32 } from '../../src/checkpoint/safetensors.js';
import { loadTrainedModel } from '../../src/checkpoint/load-model.js';
import { createModel } from '../../src/segmentation/model.js';
import { makeSynthDataset, SYNTH_CLASSES } from '../../src/dataset-makers/synth-dataset.js';
import { IMAGENET_NORMALIZATION } from '../../src/data-loading/normalize.js';
import { removeTempDirs, tempDir } from '../datasets/fixtures.js';

let dir: string;
let data: string;
beforeAll(async () => {
  await tf.setBackend('wasm');
  dir = tempDir('seg-logits-');
  data = (await makeSynthDataset({ out: join(dir, 'data'), train: 1, val: 2, size: 37, seed: 1 })).root;
});
afterAll(removeTempDirs);

describe('tools/seg-logits.mjs', () => {
  it("writes the input, seg's logits and the aux logits of one val image", async () => {
    const config = { backbone: 'resnet18', outputStride: 16, width: 0.125, numClasses: SYNTH_CLASSES.length, multiGrid: false } as const;
    const model = createModel({ ...config, auxClassifier: true }, 2);
    const ckpt = join(dir, 'ckpt');
    await saveCheckpoint(ckpt, {
      model,
      head: { kind: 'softmax' },
      classNames: SYNTH_CLASSES,
      normalization: IMAGENET_NORMALIZATION,
      iteration: 0,
    });
    model.dispose();
    const out = join(dir, 'ref.safetensors');
    const r = spawnSync(process.execPath, [resolve('tools/seg-logits.mjs'), ckpt, data, 'val_00001', out], {
      encoding: 'utf8',
      env: { ...process.env, SEG_BACKEND: 'wasm' },
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/val_00001 \(37x37\) logits \[1,37,37,6\]/);
    const { tensors, metadata } = readSafetensors(out);
    expect(metadata['id']).toBe('val_00001');
    expect(tensors.get('input')?.shape).toEqual([1, 37, 37, 3]);
    expect(tensors.get('aux')?.shape).toEqual([1, 37, 37, 6]);
    // The logits are the checkpoint's whole-image forward of the saved input.
    const trained = loadTrainedModel(ckpt);
    const x = tf.tensor4d(toFloat32(tensors.get('input') as never), [1, 37, 37, 3]);
    const logits = trained.model.forward(x, { training: false });
    expect(Array.from(toFloat32(tensors.get('logits') as never))).toEqual(Array.from(await logits.data()));
    tf.dispose([x, logits]);
    trained.model.dispose();
  });
});
