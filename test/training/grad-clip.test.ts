/** Clipping by global norm: closed forms, and one real step whose update has exactly the clipped size. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { trainFlat as train } from './tiny-run.js';
import { tf } from '../../src/backend/tf.js';
import { clipGradientsByGlobalNorm, CLIP_EPSILON, globalGradNorm } from '../../src/training/grad-clip.js';
import { makeSynthDataset } from '../../src/dataset-makers/synth-dataset.js';
import { DEFAULT_TRAIN_CONFIG, nestTrainConfig, type FlatTrainConfig } from '../../src/training/train-config.js';
import { readTrace, type TrainTraceRow } from '../../src/training/run-log.js';
import { createModel } from '../../src/segmentation/model.js';
import { loadCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { runCheckpointDir } from '../../src/checkpoint/run-layout.js';
import { planResume } from '../../src/training/resume-plan.js';
import { openDataset } from '../../src/datasets/open-dataset.js';

let root: string;
let data: string;

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
  root = mkdtempSync(join(tmpdir(), 'seg-grad-clip-'));
  data = (await makeSynthDataset({ out: join(root, 'synth'), train: 4, val: 2, size: 36, seed: 2 })).root;
});

async function values(grads: Map<string, tf.Tensor>): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const [name, g] of grads) out[name] = Array.from(await g.data());
  return out;
}

describe('clipGradientsByGlobalNorm', () => {
  it('takes the L2 norm over all gradients together and scales by maxNorm / (norm + 1e-6)', async () => {
    const grads = new Map<string, tf.Tensor>([
      ['a', tf.tensor1d([3, 4])],
      ['b', tf.tensor2d([[0, 12]])],
    ]);
    const before = tf.memory().numTensors;
    const clipped = clipGradientsByGlobalNorm(grads, 6.5);
    expect(tf.memory().numTensors - before).toBe(3); // two scaled gradients and the norm
    expect(await clipped.norm.data()).toEqual(new Float32Array([13]));
    const f = 6.5 / (13 + CLIP_EPSILON);
    const got = await values(clipped.grads);
    expect(got['a']?.[0]).toBeCloseTo(3 * f, 6);
    expect(got['a']?.[1]).toBeCloseTo(4 * f, 6);
    expect(got['b']).toEqual([0, expect.closeTo(12 * f, 5)]);
    expect(clipped.grads.get('b')?.shape).toEqual([1, 2]);
    tf.dispose([...grads.values(), ...clipped.grads.values(), clipped.norm]);
  });

  it('leaves gradients whose norm is within maxNorm unchanged', async () => {
    const grads = new Map<string, tf.Tensor>([['w', tf.tensor1d([0.3, -0.4])]]);
    const clipped = clipGradientsByGlobalNorm(grads, 0.5 + 1e-3);
    expect((await values(clipped.grads))['w']).toEqual([expect.closeTo(0.3, 7), expect.closeTo(-0.4, 7)]);
    tf.dispose([...grads.values(), ...clipped.grads.values(), clipped.norm]);
  });

  it('the norm of huge gradients (past float32 when squared) is finite, and clipping brings them back', async () => {
    const grads = new Map<string, tf.Tensor>([
      ['a', tf.tensor1d([3e30])],
      ['b', tf.tensor1d([-4e30, 0])],
    ]);
    const clipped = clipGradientsByGlobalNorm(grads, 1);
    const norm = (await clipped.norm.data())[0] as number;
    expect(norm / 5e30).toBeCloseTo(1, 6);
    const got = await values(clipped.grads);
    expect(got['a']?.[0]).toBeCloseTo(0.6, 5);
    expect(got['b']?.[0]).toBeCloseTo(-0.8, 5);
    tf.dispose([...grads.values(), ...clipped.grads.values(), clipped.norm]);
  });

  it('an infinite gradient gives a non-finite norm and non-finite gradients (the trainer then reports divergence)', async () => {
    const grads = new Map<string, tf.Tensor>([['w', tf.tensor1d([Number.POSITIVE_INFINITY, 1])]]);
    const clipped = clipGradientsByGlobalNorm(grads, 1);
    expect((await values(clipped.grads))['w']?.some((v) => !Number.isFinite(v))).toBe(true);
    expect(Number.isFinite((await clipped.norm.data())[0])).toBe(false);
    tf.dispose([...grads.values(), ...clipped.grads.values(), clipped.norm]);
  });

  it('the norm of no gradients is 0; maxNorm must be finite and > 0', async () => {
    const norm = globalGradNorm([]);
    expect(await norm.data()).toEqual(new Float32Array([0]));
    norm.dispose();
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => clipGradientsByGlobalNorm(new Map(), bad)).toThrow(/maxNorm: got .*, expected a finite number > 0/);
    }
  });
});

describe('training with clipGradNorm', () => {
  function config(out: string, overrides: Partial<FlatTrainConfig>): FlatTrainConfig {
    return {
      ...DEFAULT_TRAIN_CONFIG,
      data,
      out: join(root, out),
      head: 'egb',
      backbone: 'resnet18',
      width: 0.125,
      crop: 32,
      batch: 2,
      iters: 1,
      lr: 0.1,
      momentum: 0,
      weightDecay: 0,
      saveEvery: 0,
      evalEvery: 0,
      evalLimit: 1,
      logEvery: 1,
      seed: 4,
      ...overrides,
    };
  }

  it('one step moves the weights by exactly lr * maxNorm, and the trace logs the norm before clipping', async () => {
    const maxNorm = 1e-3;
    const result = await train(config('clipped', { clipGradNorm: maxNorm }));
    result.model.dispose();
    // With momentum 0 and weight decay 0 the first update is -lr * clipped gradient.
    const initial = createModel(
      { backbone: 'resnet18', outputStride: 16, width: 0.125, numClasses: openDataset(data).classNames.length, multiGrid: false },
      4,
    );
    const trained = loadCheckpoint(runCheckpointDir(join(root, 'clipped')), { optimizer: false });
    let squares = 0;
    for (const [name, p] of trained.model.params) {
      const before = (await (initial.params.get(name) as tf.Tensor).data()) as Float32Array;
      const after = (await p.data()) as Float32Array;
      for (let i = 0; i < after.length; i++) squares += ((after[i] as number) - (before[i] as number)) ** 2;
    }
    initial.dispose();
    trained.model.dispose();
    expect(Math.sqrt(squares)).toBeCloseTo(0.1 * maxNorm, 6);
    const row = readTrace(join(root, 'clipped')).find((r): r is TrainTraceRow => r.type === 'train');
    expect(row?.gradNorm).toBeGreaterThan(maxNorm);
  });

  it("without clipGradNorm the trace has no gradNorm; resuming keeps the run's own clipGradNorm", async () => {
    const plain = await train(config('plain', {}));
    plain.model.dispose();
    const row = readTrace(join(root, 'plain')).find((r) => r.type === 'train');
    expect(row).toBeDefined();
    expect(Object.keys(row ?? {})).not.toContain('gradNorm');
    const saved = config('x', { clipGradNorm: 5 });
    const plan = planResume(nestTrainConfig(saved), nestTrainConfig({ ...saved, clipGradNorm: 1 }));
    expect(plan.config.optim.clipGradNorm).toBe(5);
    expect(plan.kept).toEqual([{ field: 'clipGradNorm', given: 1, run: 5 }]);
  });
});
