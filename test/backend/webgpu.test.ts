/**
 * The real tfjs webgpu backend (Dawn) against cpu on tiny shapes. Without a GPU this runs on
 * lavapipe, Mesa's software Vulkan driver, which `npm test` sets up (scripts/with-lavapipe.mjs);
 * where no adapter can be had the tests are skipped with the reason.
 */
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { selectBackend } from '../../src/backend/select-backend.js';
import { probeWebgpu } from '../../src/backend/webgpu.js';
import { conv2d } from '../../src/backend/conv2d.js';
import { maxPool3x3s2 } from '../../src/backend/pool.js';
import { usesHostLoops } from '../../src/backend/rearrange.js';
import { createModel } from '../../src/segmentation/model.js';
import type { ModelConfig } from '../../src/segmentation/deeplab-spec.js';
import { createHead } from '../../src/heads/head.js';
import { MomentumSgd } from '../../src/training/sgd.js';
import { trainStep } from '../../src/training/train-step.js';
import { Rng } from '../../src/core/random.js';
import { inPlaceBackend, runningStatInPlace, sgdStepInPlace } from '../../src/backend/in-place-update.js';
import { countKernels } from '../../src/bench/model-benchmark.js';

const probe = await probeWebgpu();
const skipReason =
  probe.adapter === undefined ? (process.env['SEG_LAVAPIPE_UNAVAILABLE'] ?? probe.missing ?? 'no WebGPU adapter') : undefined;
if (skipReason !== undefined) console.log(`webgpu tests skipped: ${skipReason}`);

const CONFIG: ModelConfig = { backbone: 'resnet18', outputStride: 16, width: 0.125, numClasses: 3, multiGrid: false };
const SIZE = 32;

function relativeL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += ((a[i] as number) - (b[i] as number)) ** 2;
    den += (b[i] as number) ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}

function batch(seed: number, n: number): { images: Float32Array; labels: Int32Array } {
  const rng = new Rng(seed, 'webgpu-test');
  const images = Float32Array.from({ length: n * SIZE * SIZE * 3 }, () => rng.normal());
  const labels = Int32Array.from({ length: n * SIZE * SIZE }, () => (rng.next() < 0.1 ? 255 : rng.int(CONFIG.numClasses)));
  return { images, labels };
}

/** Logits and every parameter's gradient (egb head, training-mode BN) on the active backend. */
async function forwardAndGradients(n: number): Promise<{ logits: Float32Array; grads: Map<string, Float32Array> }> {
  const model = createModel(CONFIG, 11);
  const head = createHead({ kind: 'egb', boost: 'exp', alpha: 1 / 3, beta: 0 }, CONFIG.numClasses);
  const { images, labels } = batch(1, n);
  const x = tf.tensor4d(images, [n, SIZE, SIZE, 3]);
  const t = tf.tensor3d(labels, [n, SIZE, SIZE], 'int32');
  const logits = tf.tidy(() => model.forward(x, { training: false }));
  const { grads } = tf.variableGrads(() => head.loss(model.forward(x, { training: true }), t), [...model.params.values()]);
  const out = new Map<string, Float32Array>();
  for (const [name, p] of model.params) {
    const g = grads[p.name];
    if (g !== undefined) out.set(name, (await g.data()) as Float32Array);
  }
  const result = { logits: (await logits.data()) as Float32Array, grads: out };
  tf.dispose([x, t, logits, ...Object.values(grads)]);
  model.dispose();
  return result;
}

describe.skipIf(skipReason !== undefined)(`webgpu backend on ${probe.adapter?.description ?? 'no adapter'}`, () => {
  it('is selected by --backend webgpu and uses the device-side rearrangements', async () => {
    const sel = await selectBackend('webgpu');
    expect(sel.name).toBe('webgpu');
    expect(sel.adapter).toBe(probe.adapter?.description);
    expect(usesHostLoops()).toBe(false);
  });

  it('conv2d (stride 2, dilation 2) and max-pool gradients equal cpu', async () => {
    const run = async (): Promise<Float32Array[]> => {
      const rng = new Rng(2, 'webgpu-conv');
      const x = tf.tensor4d(
        Float32Array.from({ length: 2 * 11 * 10 * 3 }, () => rng.uniform(-1, 1)),
        [2, 11, 10, 3],
      );
      const w = tf.tensor4d(
        Float32Array.from({ length: 3 * 3 * 3 * 4 }, () => rng.uniform(-1, 1)),
        [3, 3, 3, 4],
      );
      const out: Float32Array[] = [];
      for (const [stride, dilation] of [
        [2, 1],
        [1, 2],
        [2, 2],
      ] as const) {
        const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.square(conv2d(a as tf.Tensor4D, b as tf.Tensor4D, { stride, dilation }))),
        )([x, w]);
        out.push((await (dx as tf.Tensor).data()) as Float32Array, (await (dw as tf.Tensor).data()) as Float32Array);
        tf.dispose([dx as tf.Tensor, dw as tf.Tensor]);
      }
      // the stem's form: 7x7 stride 2, filter gradient only
      const w7 = tf.tensor4d(
        Float32Array.from({ length: 7 * 7 * 3 * 4 }, () => rng.uniform(-1, 1)),
        [7, 7, 3, 4],
      );
      const dw7 = tf.grad((b: tf.Tensor) => tf.sum(tf.square(conv2d(x, b as tf.Tensor4D, { stride: 2, inputGradient: false }))))(w7);
      out.push((await dw7.data()) as Float32Array);
      tf.dispose([w7, dw7]);
      const dp = tf.grad((a: tf.Tensor) => tf.sum(tf.square(maxPool3x3s2(a as tf.Tensor4D))))(x);
      out.push((await dp.data()) as Float32Array);
      tf.dispose([x, w, dp]);
      return out;
    };
    await selectBackend('cpu');
    const expected = await run();
    await selectBackend('webgpu');
    const got = await run();
    for (let i = 0; i < got.length; i++)
      expect(relativeL2(got[i] as Float32Array, expected[i] as Float32Array), `case ${i}`).toBeLessThan(1e-5);
  });

  it('gives the forward and all gradients of a ResNet-18 DeepLab (width 0.125, 32 px) of cpu', async () => {
    await selectBackend('cpu');
    const expected = await forwardAndGradients(2);
    await selectBackend('webgpu');
    const got = await forwardAndGradients(2);
    expect(relativeL2(got.logits, expected.logits)).toBeLessThan(1e-4);
    expect([...got.grads.keys()]).toEqual([...expected.grads.keys()]);
    const errors = [...got.grads].map(([name, g]) => relativeL2(g, expected.grads.get(name) as Float32Array));
    errors.sort((a, b) => a - b);
    expect(errors[Math.floor(errors.length / 2)]).toBeLessThan(1e-4);
    expect(errors[errors.length - 1]).toBeLessThan(1e-2);
  });

  it('updates SGD state and BN running statistics in their own buffers, as the plain formulas do', async () => {
    await selectBackend('webgpu');
    const rng = new Rng(9, 'sgd');
    const values = (n: number): Float32Array => Float32Array.from({ length: n }, () => rng.uniform(-1, 1));
    const [pv, vv, gv] = [values(300 * 7), values(300 * 7), values(300 * 7)];
    const p = tf.variable(tf.tensor2d(pv, [300, 7]));
    const v = tf.variable(tf.tensor2d(vv, [300, 7]));
    const g = tf.tensor2d(gv, [300, 7]);
    const lr = tf.scalar(0.01);
    const backend = inPlaceBackend(p);
    expect(backend).toBeDefined();
    await p.data(); // a read caches the values on the CPU: the update must not leave them stale
    const buffers = [p.dataId, v.dataId];
    sgdStepInPlace(backend as NonNullable<typeof backend>, p, v, g, lr, 0.9, 1e-4);
    expect([p.dataId, v.dataId]).toEqual(buffers); // same tensors, same buffers: no assign
    const plainV = tf.add(tf.mul(tf.tensor2d(vv, [300, 7]), 0.9), tf.add(g, tf.mul(tf.tensor2d(pv, [300, 7]), 1e-4)));
    const plainP = tf.sub(tf.tensor2d(pv, [300, 7]), tf.mul(plainV, 0.01));
    expect(relativeL2(await v.data(), await plainV.data())).toBeLessThan(1e-6);
    expect(relativeL2(await p.data(), await plainP.data())).toBeLessThan(1e-6);
    const statValues = values(16);
    const stat = tf.variable(tf.tensor1d(statValues));
    const batchStat = tf.tensor1d(values(16));
    runningStatInPlace(backend as NonNullable<typeof backend>, stat, batchStat, 0.9, 0.1 * (8 / 7));
    const plainStat = tf.add(tf.mul(tf.tensor1d(statValues), 0.9), tf.mul(batchStat, 0.1 * (8 / 7)));
    expect(relativeL2(await stat.data(), await plainStat.data())).toBeLessThan(1e-6);
    tf.dispose([p, v, g, lr, plainV, plainP, stat, batchStat, plainStat]);
  });

  it('runs training steps with a finite loss and a flat tensor count', async () => {
    await selectBackend('webgpu');
    const model = createModel(CONFIG, 4);
    const head = createHead({ kind: 'softmax' }, CONFIG.numClasses);
    const sgd = new MomentumSgd(model.params, { momentum: 0.9, weightDecay: 1e-4 });
    const { images, labels } = batch(3, 2);
    const step = (): ReturnType<typeof trainStep> =>
      trainStep(model, head, sgd, { images, labels, shape: [2, SIZE, SIZE], ids: [], epoch: 0 }, { lr: 0.01, freezeBn: false });
    const first = await step();
    const before = tf.memory().numTensors;
    const second = await step();
    expect(tf.memory().numTensors).toBe(before);
    expect(Number.isFinite(first.loss) && Number.isFinite(second.loss)).toBe(true);
    expect(second.pixelAccuracy).toBeGreaterThanOrEqual(0);
    // the fused BN input gradient runs once per BN layer; the state updates in place keep every buffer
    const kernels = await countKernels(async () => void (await step()), 100);
    expect(kernels.top['SegBatchNormInputGrad']).toBeGreaterThan(10);
    const ids = [...model.params.values(), ...model.buffers.values(), ...sgd.velocity.values()].map((t) => t.dataId);
    await step();
    expect([...model.params.values(), ...model.buffers.values(), ...sgd.velocity.values()].map((t) => t.dataId)).toEqual(ids);
    sgd.dispose();
    model.dispose();
  });

  it('clips the gradients on the device: the norm of cpu, an update of exactly lr * maxNorm', async () => {
    const { images, labels } = batch(5, 2);
    const clippedStep = async (backend: 'cpu' | 'webgpu'): Promise<{ gradNorm: number | undefined; moved: number }> => {
      await selectBackend(backend);
      const model = createModel(CONFIG, 6);
      const before = new Map<string, Float32Array>();
      for (const [name, p] of model.params) before.set(name, (await p.data()) as Float32Array);
      const head = createHead({ kind: 'egb', boost: 'exp', alpha: 1 / 3, beta: 0 }, CONFIG.numClasses);
      const sgd = new MomentumSgd(model.params, { momentum: 0, weightDecay: 0 });
      const result = await trainStep(
        model,
        head,
        sgd,
        { images, labels, shape: [2, SIZE, SIZE], ids: [], epoch: 0 },
        { lr: 0.5, freezeBn: false, clipGradNorm: 1e-3 },
      );
      let squares = 0;
      for (const [name, p] of model.params) {
        const after = (await p.data()) as Float32Array;
        const was = before.get(name) as Float32Array;
        for (let i = 0; i < after.length; i++) squares += ((after[i] as number) - (was[i] as number)) ** 2;
      }
      sgd.dispose();
      model.dispose();
      return { gradNorm: result.gradNorm, moved: Math.sqrt(squares) };
    };
    const cpu = await clippedStep('cpu');
    const gpu = await clippedStep('webgpu');
    expect(gpu.gradNorm).toBeGreaterThan(1e-3);
    expect(Math.abs((gpu.gradNorm as number) - (cpu.gradNorm as number)) / (cpu.gradNorm as number)).toBeLessThan(1e-4);
    expect(gpu.moved).toBeCloseTo(0.5 * 1e-3, 6);
  });
});
