/**
 * Captured and replayed training steps on the real webgpu backend (lavapipe in CI): replayed
 * steps must give bit-identical losses, weights, momentum and BN running statistics to eager
 * steps, for every head, with and without gradient clipping, with the learning rate and the
 * data changing every step (whole runs: captured-runs.test.ts). Skipped, with the reason, where
 * no WebGPU adapter can be had.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { selectBackend } from '../../src/backend/select-backend.js';
import { probeWebgpu } from '../../src/backend/webgpu.js';
import { Rng } from '../../src/core/random.js';
import { createModel, type SegmentationModel } from '../../src/segmentation/model.js';
import type { ModelConfig } from '../../src/segmentation/deeplab-spec.js';
import { createHead, type Head } from '../../src/heads/head.js';
import { parseHeadSpec } from '../../src/heads/head-spec.js';
import { MomentumSgd } from '../../src/training/sgd.js';
import { createStepRunner, differenceBetween, type CaptureNote, type StepRunner } from '../../src/training/step-runner.js';
import type { Recording } from '../../src/backend/step-recorder.js';
import { kernelName } from '../../src/backend/step-replay.js';

const FULL = process.env['SEG_SLOW_TESTS'] === '1';

const probe = await probeWebgpu();
const skipReason =
  probe.adapter === undefined ? (process.env['SEG_LAVAPIPE_UNAVAILABLE'] ?? probe.missing ?? 'no WebGPU adapter') : undefined;
if (skipReason !== undefined) console.log(`captured-step tests skipped: ${skipReason}`);

const CONFIG: ModelConfig = { backbone: 'resnet18', outputStride: 16, width: 0.125, numClasses: 3, multiGrid: false };
const SIZE = 32;
const STEPS = 5; // one eager warm-up, two recorded, two replayed

interface Trajectory {
  losses: number[];
  gradNorms: (number | undefined)[];
  how: (string | undefined)[];
  state: Map<string, Float32Array>;
  notes: CaptureNote[];
}

function batchAt(step: number, n = 2, size = SIZE): { images: Float32Array; labels: Int32Array; shape: [number, number, number] } {
  const rng = new Rng(100 + step, 'step-runner-test');
  return {
    images: Float32Array.from({ length: n * size * size * 3 }, () => rng.normal()),
    labels: Int32Array.from({ length: n * size * size }, () => (rng.next() < 0.1 ? 255 : rng.int(CONFIG.numClasses))),
    shape: [n, size, size],
  };
}

async function stateOf(model: SegmentationModel, sgd: MomentumSgd): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [name, t] of model.params) out.set(name, (await t.data()) as Float32Array);
  for (const [name, t] of model.buffers) out.set(name, (await t.data()) as Float32Array);
  for (const [name, t] of sgd.velocity) out.set(`momentum:${name}`, (await t.data()) as Float32Array);
  return out;
}

/** Runs STEPS steps (lr and data changing every step, dropout on) with or without capture. */
async function trajectory(
  head: Head,
  capture: boolean,
  options: { clipGradNorm?: number; between?: (step: number, model: SegmentationModel, runner: StepRunner) => Promise<void> } = {},
): Promise<Trajectory> {
  const model = createModel(CONFIG, 7);
  const sgd = new MomentumSgd(model.params, { momentum: 0.9, weightDecay: 1e-4 });
  const notes: CaptureNote[] = [];
  const runner = createStepRunner(model, head, sgd, { capture, onNote: (n) => notes.push(n) });
  const dropoutRng = new Rng(11, 'dropout');
  const out: Trajectory = { losses: [], gradNorms: [], how: [], state: new Map(), notes };
  try {
    for (let s = 0; s < STEPS; s++) {
      const b = batchAt(s);
      const result = await runner.run(
        { ...b, ids: [], epoch: 0 },
        {
          lr: 0.02 * (1 - s / STEPS) ** 0.9,
          freezeBn: false,
          dropoutRng,
          ...(options.clipGradNorm !== undefined ? { clipGradNorm: options.clipGradNorm } : {}),
        },
      );
      out.losses.push(result.loss);
      out.gradNorms.push(result.gradNorm);
      out.how.push(runner.lastStep);
      await options.between?.(s, model, runner);
    }
    out.state = await stateOf(model, sgd);
    expect(model.batchesTracked).toBe(STEPS);
  } finally {
    runner.dispose();
    sgd.dispose();
    model.dispose();
  }
  return out;
}

/**
 * STEPS captured steps; after the recorded ones, the state (weights, momentum, BN statistics,
 * the dropout RNG) is copied into a twin model that takes the replayed steps' batches eagerly.
 */
async function replaysAgainstEager(
  head: Head,
  clipGradNorm: number | undefined,
): Promise<{ how: (string | undefined)[]; notes: CaptureNote[]; replayed: Trajectory; eager: Trajectory }> {
  const model = createModel(CONFIG, 7);
  const sgd = new MomentumSgd(model.params, { momentum: 0.9, weightDecay: 1e-4 });
  const notes: CaptureNote[] = [];
  const runner = createStepRunner(model, head, sgd, { capture: true, onNote: (n) => notes.push(n) });
  const twin = createModel(CONFIG, 8);
  const twinSgd = new MomentumSgd(twin.params, { momentum: 0.9, weightDecay: 1e-4 });
  const eagerRunner = createStepRunner(twin, head, twinSgd, { capture: false });
  const dropoutRng = new Rng(11, 'dropout');
  let twinRng = dropoutRng;
  const how: (string | undefined)[] = [];
  const replayed: Trajectory = { losses: [], gradNorms: [], how: [], state: new Map(), notes };
  const eager: Trajectory = { losses: [], gradNorms: [], how: [], state: new Map(), notes: [] };
  const FIRST_REPLAY = 3;
  try {
    for (let s = 0; s < STEPS; s++) {
      if (s === FIRST_REPLAY) {
        const copy = async (from: Map<string, tf.Variable>, to: Map<string, tf.Variable>): Promise<void> => {
          for (const [name, v] of from) (to.get(name) as tf.Variable).assign(tf.tensor((await v.data()) as Float32Array, v.shape));
        };
        await copy(model.params, twin.params);
        await copy(model.buffers, twin.buffers);
        await copy(sgd.velocity, twinSgd.velocity);
        twin.batchesTracked = model.batchesTracked;
        twinRng = Rng.fromState(dropoutRng.state());
      }
      const options = (rng: Rng) => ({
        lr: 0.02 * (1 - s / STEPS) ** 0.9,
        freezeBn: false,
        dropoutRng: rng,
        ...(clipGradNorm !== undefined ? { clipGradNorm } : {}),
      });
      const b = { ...batchAt(s), ids: [], epoch: 0 };
      const result = await runner.run(b, options(dropoutRng));
      how.push(runner.lastStep);
      if (s < FIRST_REPLAY) continue;
      replayed.losses.push(result.loss);
      replayed.gradNorms.push(result.gradNorm);
      const reference = await eagerRunner.run(b, options(twinRng));
      eager.losses.push(reference.loss);
      eager.gradNorms.push(reference.gradNorm);
    }
    replayed.state = await stateOf(model, sgd);
    eager.state = await stateOf(twin, twinSgd);
    expect(model.batchesTracked).toBe(STEPS);
  } finally {
    for (const r of [runner, eagerRunner]) r.dispose();
    for (const o of [sgd, twinSgd, model, twin]) o.dispose();
  }
  return { how, notes, replayed, eager };
}

function expectSameState(a: Map<string, Float32Array>, b: Map<string, Float32Array>): void {
  expect([...a.keys()]).toEqual([...b.keys()]);
  for (const [name, x] of a) {
    const y = b.get(name) as Float32Array;
    const differing = x.findIndex((v, i) => !Object.is(v, y[i]));
    expect(differing, `${name} differs at element ${differing}`).toBe(-1);
  }
}

describe.skipIf(skipReason !== undefined)(`captured training steps on ${probe.adapter?.description ?? 'no adapter'}`, () => {
  beforeAll(async () => {
    await selectBackend('webgpu');
  });

  for (const headText of ['softmax', 'egb', 'egb:pow3', 'linear']) {
    for (const clipGradNorm of [undefined, 0.5]) {
      // npm test clips softmax only (the clip is the same code for every head); test:slow clips all four.
      it.runIf(FULL || clipGradNorm === undefined || headText === 'softmax')(
        `${headText}${clipGradNorm !== undefined ? ', clipped' : ''}: replayed steps equal eager steps bit for bit`,
        async () => {
          const head = createHead(parseHeadSpec(headText, CONFIG.numClasses), CONFIG.numClasses);
          const comparison = await replaysAgainstEager(head, clipGradNorm);
          expect(comparison.how).toEqual(['eager', 'recorded', 'recorded', 'replayed', 'replayed']);
          expect(comparison.notes).toEqual([{ mode: 'replay', shape: [2, SIZE, SIZE] }]);
          expect(comparison.replayed.losses).toEqual(comparison.eager.losses);
          expect(comparison.replayed.gradNorms).toEqual(comparison.eager.gradNorms);
          if (clipGradNorm !== undefined) expect(comparison.replayed.gradNorms.every((g) => g !== undefined && g > 0)).toBe(true);
          expectSameState(comparison.replayed.state, comparison.eager.state);
        },
      );
    }
  }

  it('eager work between replays sees the current weights; a variable given a new buffer makes the runner record again', async () => {
    const head = createHead(parseHeadSpec('softmax', CONFIG.numClasses), CONFIG.numClasses);
    const probeLogits = async (model: SegmentationModel): Promise<Float32Array> => {
      const x = tf.tensor4d(batchAt(99).images, [2, SIZE, SIZE, 3]);
      const y = tf.tidy(() => model.forward(x, { training: false }));
      const values = (await y.data()) as Float32Array;
      tf.dispose([x, y]);
      return values;
    };
    const seen: { eager: Float32Array[]; captured: Float32Array[] } = { eager: [], captured: [] };
    // After step 3 (the first replay): an eager forward (as evaluation does), then a read of every
    // weight (as a checkpoint save does), then an assign (as a resume does) of one parameter.
    const between = (into: Float32Array[]) => async (step: number, model: SegmentationModel) => {
      into.push(await probeLogits(model));
      if (step !== 3) return;
      for (const p of model.params.values()) await p.data();
      const [name, p] = [...model.params][0] as [string, tf.Variable];
      const values = (await p.data()) as Float32Array;
      p.assign(
        tf.tensor(
          Float32Array.from(values, (v) => v * 0.5),
          p.shape,
        ),
      );
      expect(name).toMatch(/conv1\.weight$/);
    };
    const eager = await trajectory(head, false, { between: between(seen.eager) });
    const captured = await trajectory(head, true, { between: between(seen.captured) });
    expect(captured.how).toEqual(['eager', 'recorded', 'recorded', 'replayed', 'recorded']);
    expect(captured.losses).toEqual(eager.losses);
    expect(seen.captured).toEqual(seen.eager);
    expectSameState(captured.state, eager.state);
  });

  it('runs other batch shapes eagerly and says so once', async () => {
    const head = createHead(parseHeadSpec('egb', CONFIG.numClasses), CONFIG.numClasses);
    const model = createModel(CONFIG, 7);
    const sgd = new MomentumSgd(model.params, { momentum: 0.9, weightDecay: 1e-4 });
    const notes: CaptureNote[] = [];
    const runner = createStepRunner(model, head, sgd, { onNote: (n) => notes.push(n) });
    const how: (string | undefined)[] = [];
    for (let s = 0; s < 6; s++) {
      const b = s < 4 ? batchAt(s) : batchAt(s, 2, 40);
      await runner.run({ ...b, ids: [], epoch: 0 }, { lr: 0.01, freezeBn: false });
      how.push(runner.lastStep);
    }
    expect(how).toEqual(['eager', 'recorded', 'recorded', 'replayed', 'eager', 'eager']);
    expect(notes).toEqual([
      { mode: 'replay', shape: [2, SIZE, SIZE] },
      { mode: 'eager', shape: [2, 40, 40], reason: `another batch shape or setting than the captured one (2x${SIZE}x${SIZE})` },
    ]);
    runner.dispose();
    sgd.dispose();
    model.dispose();
  });

  it('leaves a step eager, with the reason, when a value that changes per step is uploaded as a constant', async () => {
    const inner = createHead(parseHeadSpec('softmax', CONFIG.numClasses), CONFIG.numClasses);
    let step = 0;
    // A head whose loss is scaled by a host number that changes every step: a replay could not know it.
    const varying: Head = {
      ...inner,
      spec: inner.spec,
      numClasses: inner.numClasses,
      lossAndGradient: (z, t) => inner.lossAndGradient(z, t),
      predict: (z) => inner.predict(z),
      scores: (z) => inner.scores(z),
      loss: (z, t) => {
        step += 1;
        return tf.mul(inner.loss(z, t), tf.scalar(1 + step / 10)) as tf.Scalar;
      },
    };
    const eager = await trajectory(varying, false);
    step = 0;
    const captured = await trajectory(varying, true);
    expect(captured.how).toEqual(['eager', 'recorded', 'recorded', 'eager', 'eager']);
    expect(captured.notes).toHaveLength(1);
    expect(captured.notes[0]?.mode).toBe('eager');
    expect(captured.notes[0]?.reason).toMatch(/uploads other data/);
    expect(captured.losses).toEqual(eager.losses);
  });
});

describe('differenceBetween', () => {
  const upload = (bytes: number[]): Recording['ops'][number] => ({
    kind: 'upload',
    dst: {} as never,
    dstOffset: 0,
    data: Uint8Array.from(bytes),
  });
  it('accepts the same work and names what differs', () => {
    expect(differenceBetween({ ops: [upload([1, 2])] }, { ops: [upload([1, 2])] })).toBeUndefined();
    expect(differenceBetween({ ops: [upload([1, 2])] }, { ops: [upload([1, 3])] })).toMatch(/operation 1 of 1 uploads other data/);
    expect(differenceBetween({ ops: [upload([1])] }, { ops: [] })).toMatch(/issued 1 and 0 operations/);
  });
});

describe('kernelName', () => {
  it('names tfjs programs from their shader keys', () => {
    expect(kernelName('binary_17_4,1_128,1,12,0,2float32,float32,float32A,B;true_falseflatDispatch')).toBe('binary:MUL');
    expect(kernelName('unary_23_128,1,12,2float32,float32AtrueflatDispatch')).toBe('unary:RELU');
    expect(kernelName('reduce_sum_64,1,12,1float32,float32xfalseflatDispatch')).toBe('reduce_sum');
    expect(kernelName('conv2DMM_1,1,true_4,4,1_8,8,1')).toBe('conv2DMM');
    expect(kernelName('seg_sgd_velocity_in_place_128,1,13float32')).toBe('seg_sgd_velocity_in_place');
  });
});
