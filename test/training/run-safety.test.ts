/** Problems found before the first step, locks, divergence, damaged resume state and resume semantics. */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trainFlat as train } from './tiny-run.js';
import { tf } from '../../src/backend/tf.js';
import { FieldError } from '../../src/core/schema.js';
import { SegError } from '../../src/core/errors.js';
import { LOCK_FILE } from '../../src/core/run-lock.js';
import { makeSynthDataset } from '../../src/dataset-makers/synth-dataset.js';
import type { TrainHooks } from '../../src/training/trainer.js';
import { DEFAULT_TRAIN_CONFIG, type FlatTrainConfig } from '../../src/training/train-config.js';
import { NonFiniteError } from '../../src/training/non-finite-error.js';
import { readTrace, type TrainTraceRow } from '../../src/training/run-log.js';
import { polyLearningRate } from '../../src/training/sgd.js';
import { runCheckpointDir } from '../../src/checkpoint/run-layout.js';
import { loadTrainedModel } from '../../src/checkpoint/load-model.js';
import { removeTempDirs, tempDir } from '../datasets/fixtures.js';

let root: string;
let data: string;

function config(out: string, overrides: Partial<FlatTrainConfig> = {}): FlatTrainConfig {
  return {
    ...DEFAULT_TRAIN_CONFIG,
    data,
    out: join(root, out),
    backbone: 'resnet18',
    width: 0.125,
    crop: 32,
    batch: 2,
    iters: 3,
    lr: 0.01,
    saveEvery: 0,
    evalEvery: 0,
    evalLimit: 1,
    logEvery: 1,
    seed: 4,
    ...overrides,
  };
}

async function run(c: FlatTrainConfig, hooks: TrainHooks = {}): Promise<void> {
  (await train(c, hooks)).model.dispose();
}

async function failure(c: FlatTrainConfig, hooks: TrainHooks = {}): Promise<Error> {
  try {
    await run(c, hooks);
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected train() to fail');
}

function checkpointJson(out: string, file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(runCheckpointDir(out), file), 'utf8')) as Record<string, unknown>;
}

function readCheckpointConfigIteration(out: string): unknown {
  return checkpointJson(out, 'config.json')['iteration'];
}

function editJson(out: string, file: string, edit: (value: Record<string, unknown>) => void): void {
  const value = checkpointJson(out, file);
  edit(value);
  writeFileSync(join(runCheckpointDir(out), file), JSON.stringify(value));
}

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
  root = tempDir('seg-run-safety-');
  data = (await makeSynthDataset({ out: join(root, 'synth'), train: 4, val: 2, size: 36, seed: 3 })).root;
});

afterAll(removeTempDirs);

describe('checked before the first step', () => {
  it('a missing val split is an error about valSplit, before anything is trained or written', async () => {
    const c = config('bad-val', { valSplit: 'nope' });
    const err = await failure(c);
    expect(err).toBeInstanceOf(FieldError);
    expect((err as FieldError).field).toBe('valSplit');
    expect(err.message).toMatch(/^valSplit: got 'nope', expected one of train, trainval, val/);
    expect(existsSync(join(c.out, 'trace.jsonl'))).toBe(false);
    expect(existsSync(runCheckpointDir(c.out))).toBe(false);
    expect(existsSync(join(c.out, LOCK_FILE))).toBe(false);
  });

  it('bad settings are refused before the run folder is made', async () => {
    const c = config('bad-lr', { lr: -1 });
    expect((await failure(c)).message).toBe('optim.lr: got -1, expected a number > 0');
    expect(existsSync(c.out)).toBe(false);
  });

  it('a truncated val label stops the run before it trains', async () => {
    const broken = (await makeSynthDataset({ out: join(root, 'synth-broken'), train: 4, val: 2, size: 36, seed: 3 })).root;
    const ids = readFileSync(join(broken, 'ImageSets', 'Segmentation', 'val.txt'), 'utf8')
      .split('\n')
      .filter((l) => l !== '');
    const label = join(broken, 'SegmentationClass', `${ids[0]}.png`);
    writeFileSync(label, readFileSync(label).subarray(0, 60));
    const c = config('bad-label', { data: broken });
    const err = await failure(c);
    expect((err as FieldError).field).toBe('valSplit');
    expect(err.message).toContain(label);
    expect(existsSync(join(c.out, 'trace.jsonl'))).toBe(false);
  });

  it('a foreign file in checkpoint/ is found at start, not at the first save', async () => {
    const c = config('foreign');
    mkdirSync(runCheckpointDir(c.out), { recursive: true });
    writeFileSync(join(runCheckpointDir(c.out), 'notes.txt'), 'mine');
    const err = await failure(c);
    expect(err.message).toMatch(/notes\.txt/);
    expect(existsSync(join(c.out, 'trace.jsonl'))).toBe(false);
  });

  it('a run folder in use by another run is refused; the lock is released after a run', async () => {
    const c = config('locked');
    mkdirSync(c.out, { recursive: true });
    writeFileSync(join(c.out, LOCK_FILE), JSON.stringify({ pid: process.ppid, host: (await import('node:os')).hostname() }));
    expect((await failure(c)).message).toMatch(/is in use by another run/);
    writeFileSync(join(c.out, LOCK_FILE), '');
    // An unreadable lock is not taken over either.
    expect((await failure(c)).message).toMatch(/is in use by another run \(an unreadable owner\)/);
    const free = config('unlocked');
    await run(free);
    expect(existsSync(join(free.out, LOCK_FILE))).toBe(false);
  });

  it('two runs on the same folder at once: the second is refused, the first finishes', async () => {
    const c = config('twice', { iters: 2 });
    const results = await Promise.allSettled([train(c), train(c)]);
    const ok = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r) => r.status === 'rejected');
    expect(ok).toHaveLength(1);
    expect(refused).toHaveLength(1);
    expect(String((refused[0] as PromiseRejectedResult).reason)).toMatch(/in use by another run/);
    (ok[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof train>>>).value.model.dispose();
    expect(
      readTrace(c.out)
        .filter((r) => r.type === 'train')
        .map((r) => r.iter),
    ).toEqual([1, 2]);
  });
});

describe('a run folder removed while the run trains', () => {
  it.each([
    ['at a logged step', { logEvery: 1, saveEvery: 0 }],
    ['at a save between logged steps', { logEvery: 5, saveEvery: 3 }],
  ])('stops the run cleanly %s, saying so, and does not make the folder again', async (_what, overrides) => {
    const c = config(`removed-${overrides.logEvery}`, { iters: 5, ...overrides });
    const remove = {
      afterTrainIter: (_run: unknown, step: { iteration: number }) => void (step.iteration === 2 && rmSync(c.out, { recursive: true })),
    };
    const err = await failure(c, { hooks: [remove] });
    expect(err).toBeInstanceOf(SegError);
    expect(err.message).toMatch(/removed-\d: the run folder was removed while the run trained \(found at iteration 3\); training stopped/);
    expect(existsSync(c.out)).toBe(false);
  });
});

describe('divergence', () => {
  it('non-finite weights stop the run at a save, naming the tensors; the last checkpoint stays intact', async () => {
    const c = config('nan-weights', { iters: 6, saveEvery: 2 });
    // A NaN batch-norm running statistic leaves the training loss finite (training uses batch
    // statistics): only the weight check at the next save can see it.
    const poison = {
      afterTrainIter: (r: { model: { buffers: Map<string, tf.Variable> } }, step: { iteration: number }): void => {
        if (step.iteration !== 3) return;
        const v = r.model.buffers.get('backbone.bn1.running_var') as tf.Variable;
        v.assign(tf.fill(v.shape, Number.NaN));
      },
    };
    const err = await failure({ ...c, saveEvery: 1 }, { hooks: [poison] });
    expect(err).toBeInstanceOf(NonFiniteError);
    expect((err as NonFiniteError).iteration).toBe(4);
    expect((err as NonFiniteError).tensors).toEqual(['backbone.bn1.running_var']);
    expect((err as NonFiniteError).what).toBe('weights');
    expect(err.message).toMatch(
      /iteration 4: 1 weight tensor has non-finite values \(backbone\.bn1\.running_var\); training stopped without saving/,
    );
    expect(checkpointJson(c.out, 'config.json')['iteration']).toBe(3);
  });

  it('a divergence before any save does not promise a checkpoint; after a save it names its iteration', async () => {
    const none = await failure(config('diverge-unsaved', { iters: 20, lr: 1e8, head: 'linear' }));
    expect(none).toBeInstanceOf(NonFiniteError);
    expect(none.message).toMatch(
      /training stopped\. No checkpoint was saved yet \(`saveEvery` 0 and no evaluation before it\): nothing to resume\. Try a lower `lr`/,
    );
    expect(none.message).not.toMatch(/intact/);
    const saved = await failure(config('diverge-saved', { iters: 20, lr: 1e8, head: 'linear', saveEvery: 1 }));
    expect(saved.message).toMatch(
      /training stopped\. The last checkpoint in .*diverge-saved \(iteration \d+\) is intact \(continue it with `resume`\)/,
    );
  });

  it('eval and resume refuse a checkpoint with non-finite weights, naming the tensors', async () => {
    const c = config('nan-checkpoint', { iters: 2 });
    await run(c);
    // Damage the saved weights as a diverged save would have left them.
    const { readSafetensors, writeSafetensors } = await import('../../src/checkpoint/safetensors.js');
    const file = join(runCheckpointDir(c.out), 'model.safetensors');
    const { tensors } = readSafetensors(file);
    const out = new Map<string, { shape: number[]; data: Float32Array | BigInt64Array }>();
    for (const [name, t] of tensors) {
      const values = t.data instanceof BigInt64Array ? t.data : Float32Array.from(t.data as Float32Array);
      if (name === 'backbone.conv1.weight' && values instanceof Float32Array) values[5] = Number.POSITIVE_INFINITY;
      out.set(name, { shape: [...t.shape], data: values });
    }
    writeSafetensors(file, out);
    expect(() => loadTrainedModel(c.out)).toThrow(/1 weight tensor has non-finite values \(backbone\.conv1\.weight\)/);
    expect((await failure({ ...c, iters: 4 }, { resume: true })).message).toMatch(/non-finite values \(backbone\.conv1\.weight\)/);
  });
});

describe('resume state read from disk is checked', () => {
  it.each([
    [
      'state.json',
      (s: Record<string, unknown>) => ((s['state'] as Record<string, unknown>)['iteration'] = -5),
      /state\.json: state\.iteration: got -5, expected an integer >= 0/,
    ],
    [
      'state.json',
      (s: Record<string, unknown>) => ((s['state'] as Record<string, unknown>)['iteration'] = 1e300),
      /state\.json: state\.iteration: got 1e\+300, expected an integer >= 0/,
    ],
    [
      'state.json',
      (s: Record<string, unknown>) => ((s['state'] as Record<string, unknown>)['dropoutRng'] = 'x'),
      /state\.json: state\.dropoutRng: got "x", expected a list/,
    ],
    [
      'config.json',
      (s: Record<string, unknown>) => (((s['training'] as Record<string, unknown>)['optim'] as Record<string, unknown>)['lr'] = 'abc'),
      /config\.json: training\.optim\.lr: got "abc", expected a number > 0/,
    ],
    ['config.json', (s: Record<string, unknown>) => (s['iteration'] = -1), /config\.json: iteration: got -1, expected an integer >= 0/],
  ])('%s: %s', async (file, edit, message) => {
    const c = config(`damaged-${file}-${String(message).length}-${Math.random().toString(36).slice(2, 6)}`, { iters: 2 });
    await run(c);
    editJson(c.out, file, edit);
    const err = await failure({ ...c, iters: 4 }, { resume: true });
    expect(err).toBeInstanceOf(FieldError);
    expect(err.message).toMatch(message);
  });
});

describe('a resume that cannot be exact is refused', () => {
  it('without optimizer.safetensors, or with a momentum buffer missing or of another shape, naming it', async () => {
    const c = config('no-optimizer', { iters: 2 });
    await run(c);
    const file = join(runCheckpointDir(c.out), 'optimizer.safetensors');
    const saved = readFileSync(file);
    rmSync(file);
    const err = await failure({ ...c, iters: 4 }, { resume: true });
    expect(err.message).toMatch(
      /optimizer\.safetensors: missing: the momentum buffers are lost, so the resume cannot be exact\. Resume with `allowInexactResume` to restart momentum at zero/,
    );
    expect(readCheckpointConfigIteration(c.out)).toBe(2);
    // One buffer of the wrong shape (a file from another run): refused as well.
    writeFileSync(file, saved);
    const other = config('other-model', { iters: 1, width: 0.25 });
    await run(other);
    writeFileSync(file, readFileSync(join(runCheckpointDir(other.out), 'optimizer.safetensors')));
    expect((await failure({ ...c, iters: 4 }, { resume: true })).message).toMatch(
      /optimizer\.safetensors: the momentum buffer of backbone\.conv1\.weight has shape \[16,3,7,7\], expected \[8,3,7,7\]/,
    );
  });

  it('without state.loader, naming it; allowInexactResume resumes and says what is lost', async () => {
    const c = config('no-loader', { iters: 2 });
    await run(c);
    editJson(c.out, 'state.json', (s) => delete (s['state'] as Record<string, unknown>)['loader']);
    const err = await failure({ ...c, iters: 4 }, { resume: true });
    expect(err.message).toMatch(/state\.json: state\.loader: missing: the data loader's position is lost, so the resume cannot be exact/);
    rmSync(join(runCheckpointDir(c.out), 'optimizer.safetensors'));
    const lines: string[] = [];
    const resumed = await train({ ...c, iters: 4 }, { resume: true, allowInexactResume: true, log: (l) => lines.push(l) });
    resumed.model.dispose();
    expect(resumed.iteration).toBe(4);
    expect(lines.join('\n')).toMatch(/inexact resume: the momentum buffers are lost \(momentum restarts at zero\)/);
    expect(lines.join('\n')).toMatch(
      /inexact resume: the data loader's position is lost \(batches restart at the first of the seed's order\)/,
    );
  });
});

describe('resume semantics', () => {
  it('refuses another head, keeps the recipe, extends with a higher iters and recomputes the schedule', async () => {
    const c = config('semantics', { iters: 2 });
    await run(c);
    const head = await failure({ ...c, head: 'egb', iters: 4 }, { resume: true, given: ['head', 'iters'] });
    expect((head as FieldError).field).toBe('head');
    expect(head.message).toMatch(
      /^head: got "egb" \(egb:exp:alpha=0\.16\d*,beta=0\), but the run in .* was trained with "softmax"; a resumed run keeps its model/,
    );
    await expect(train({ ...c, iters: 1 }, { resume: true, given: ['iters'] })).rejects.toThrow(
      /iters: got 1, .* `iters` can only be raised/,
    );

    const lines: string[] = [];
    const extended = await train(
      { ...c, iters: 4, lr: 0.5, evalLimit: 2 },
      { resume: true, given: ['iters', 'lr', 'evalLimit'], log: (l) => lines.push(l) },
    );
    extended.model.dispose();
    expect(extended.iteration).toBe(4);
    expect(extended.resumed?.kept).toEqual([{ field: 'lr', given: 0.5, run: 0.01 }]);
    expect(extended.resumed?.applied.map((a) => a.field)).toEqual(['evalLimit', 'iters']);
    expect(lines).toContain("resume keeps the run's own `lr` 0.01 (given 0.5): they shape its batches and updates");
    expect(lines).toContain('extending the run from 2 to 4 iterations; the poly learning-rate schedule is recomputed over 4');
    const rows = readTrace(c.out);
    expect(rows.find((r) => r.type === 'extend')).toEqual({ type: 'extend', iter: 2, fromIters: 2, toIters: 4 });
    const lr3 = (rows.find((r) => r.type === 'train' && r.iter === 3) as TrainTraceRow).lr;
    expect(lr3).toBeCloseTo(polyLearningRate(0.01, 2, 4, 0.9), 12);
    expect(checkpointJson(c.out, 'config.json')['training']).toMatchObject({
      schedule: { iters: 4 },
      optim: { lr: 0.01 },
      data: { evalLimit: 2 },
    });

    // Fields not given are not compared: a plain resume of a finished run says it is finished.
    const again = await train({ ...c, head: 'linear', lr: 7 }, { resume: true, given: [] });
    again.model.dispose();
    expect(again.alreadyFinished).toBe(true);
    expect(again.iteration).toBe(4);
    expect(typeof again.savedMIoU).toBe('number');
  });
});
