/**
 * onnxruntime's WebGPU execution provider (bundled in onnxruntime-node's Linux x64 binary),
 * on lavapipe in CI: the same logits as its CPU provider and as tfjs, and `seg predict
 * --engine onnxruntime --backend webgpu` writes the CPU provider's masks. Skipped, with the
 * reason, without onnxruntime-node or a WebGPU adapter.
 */
import { tfjsEngine } from '../../src/inference/engines/tfjs.js';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf.js';
import { selectBackend } from '../../src/engine/backend.js';
import { probeWebgpu } from '../../src/engine/webgpu.js';
import { saveCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { exportOnnx } from '../../src/export/onnx-export.js';
import { onnxRuntimeEngine } from '../../src/inference/engines/onnxruntime.js';
import { defaultSessionOptions } from '../../src/inference/engines/onnxruntime-loader.js';
import { makeSynthDataset, SYNTH_CLASSES } from '../../src/dataset-makers/synth-dataset.js';
import { IMAGENET_NORMALIZATION } from '../../src/data-loading/normalize.js';
import { Rng } from '../../src/core/random.js';
import { onnxRuntimeMissing, randomisedModel, relativeL2 } from '../export/onnx-fixtures.js';
import { removeTempDirs, tempDir } from '../datasets/fixtures.js';
import { runSeg } from '../cli/run-cli.js';

const ortMissing = await onnxRuntimeMissing();
const probe = await probeWebgpu();
const skipReason =
  ortMissing ??
  (probe.adapter === undefined ? (process.env['SEG_LAVAPIPE_UNAVAILABLE'] ?? probe.missing ?? 'no WebGPU adapter') : undefined);
if (skipReason !== undefined) console.log(`onnxruntime webgpu tests skipped: ${skipReason}`);

const CONFIG = {
  backbone: 'resnet18' as const,
  outputStride: 16 as const,
  width: 0.125,
  numClasses: SYNTH_CLASSES.length,
  multiGrid: false,
};

describe.skipIf(skipReason !== undefined)(`onnxruntime's WebGPU provider on ${probe.adapter?.description ?? 'no adapter'}`, () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir('seg-ort-webgpu-');
  });
  afterAll(removeTempDirs);

  it('gives the logits of its CPU provider and of tfjs webgpu', async () => {
    await selectBackend('webgpu');
    const model = randomisedModel(CONFIG, 3);
    const bytes = await exportOnnx(model, {
      headSpec: { kind: 'softmax' },
      classNames: SYNTH_CLASSES,
      normalization: IMAGENET_NORMALIZATION,
      headOutput: 'logits',
    });
    const rng = new Rng(1, 'ort-webgpu');
    const images = tf.tensor4d(
      Float32Array.from({ length: 2 * 37 * 45 * 3 }, () => rng.normal()),
      [2, 37, 45, 3],
    );
    const logitsOf = async (engine: { logits(x: tf.Tensor4D): Promise<tf.Tensor4D>; dispose(): Promise<void> }): Promise<Float32Array> => {
      const out = await engine.logits(images);
      const values = (await out.data()) as Float32Array;
      out.dispose();
      await engine.dispose();
      return values;
    };
    const gpu = await onnxRuntimeEngine(bytes, 'test model', defaultSessionOptions(2, 'webgpu'));
    expect(gpu.device).toBe('webgpu');
    const onGpu = await logitsOf(gpu);
    const onCpu = await logitsOf(await onnxRuntimeEngine(bytes, 'test model', defaultSessionOptions(2, 'cpu')));
    const onTfjs = await logitsOf(tfjsEngine(model));
    expect(relativeL2(onGpu, onCpu)).toBeLessThan(1e-5);
    expect(relativeL2(onGpu, onTfjs)).toBeLessThan(1e-5);
    images.dispose();
    model.dispose();
  });

  it('seg predict --engine onnxruntime --backend webgpu writes the masks of the CPU provider', async () => {
    const data = (await makeSynthDataset({ out: join(dir, 'synth'), train: 1, val: 2, size: 37, seed: 4 })).root;
    await tf.setBackend('wasm');
    const model = randomisedModel(CONFIG, 9);
    const checkpoint = join(dir, 'ckpt');
    await saveCheckpoint(checkpoint, {
      model,
      head: { kind: 'egb', boost: 'exp', alpha: 0.3, beta: 0 },
      classNames: SYNTH_CLASSES,
      normalization: IMAGENET_NORMALIZATION,
      iteration: 0,
    });
    model.dispose();
    const photos = join(data, 'JPEGImages');
    const masks = (backend: string): Map<string, Buffer> => {
      const out = join(dir, `masks-${backend}`);
      return new Map(readdirSync(out).map((f) => [f, readFileSync(join(out, f))]));
    };
    for (const backend of ['webgpu', 'wasm']) {
      const r = await runSeg([
        'predict',
        '--checkpoint',
        checkpoint,
        '--input',
        photos,
        '--output',
        join(dir, `masks-${backend}`),
        '--engine',
        'onnxruntime',
        '--backend',
        backend,
      ]);
      expect(r.code, r.err).toBe(0);
      if (backend === 'webgpu') expect(r.err).toMatch(/engine: onnxruntime \(webgpu execution provider\)/);
      else expect(r.err).not.toMatch(/webgpu execution provider/);
    }
    const gpu = masks('webgpu');
    expect(gpu.size).toBeGreaterThan(0);
    expect(gpu).toEqual(masks('wasm'));
  });
});
