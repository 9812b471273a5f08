/**
 * Run folders saved before the field table: their config.json (formatVersion 1) holds the
 * training settings flat. test/fixtures/config-v1/config.json was written by seg's main
 * branch before the change (`seg train --data synth --out run --backbone resnet18 ...`, its
 * commandLine): it must still load, and a run with it must resume bit-exactly.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { makeSynthDataset } from '../../src/dataset-makers/synth-dataset.js';
import { train } from '../../src/training/trainer.js';
import {
  flattenTrainConfig,
  nestTrainConfig,
  readTrainConfig,
  TRAIN_CONFIG_VERSION,
  validateTrainConfig,
  type FlatTrainConfig,
} from '../../src/training/train-config.js';
import { runCheckpointDir } from '../../src/checkpoint/run-layout.js';
import { flatSettings } from '../../src/training/train-fields.js';
import { flattenSections, readConfigFile } from '../../src/cli/config-file.js';
import { CHECKPOINT_FORMAT_VERSION } from '../../src/checkpoint/checkpoint-config.js';
import { FieldError } from '../../src/core/schema.js';
import { removeTempDirs, tempDir } from '../datasets/fixtures.js';
import { runWeights } from './tiny-run.js';

interface V1File {
  formatVersion: number;
  training: Record<string, unknown>;
}

const fixture = JSON.parse(readFileSync('test/fixtures/config-v1/config.json', 'utf8')) as V1File;

let root: string;
let data: string;

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
  root = tempDir('seg-config-v1-');
  // The dataset the fixture's run was trained on (`seg data synth --train 4 --val 2 --size 36 --seed 3`).
  data = (await makeSynthDataset({ out: join(root, 'synth'), train: 4, val: 2, size: 36, seed: 3 })).root;
});

afterAll(() => removeTempDirs());

function settings(out: string, iters: number): FlatTrainConfig {
  return { ...(fixture.training as FlatTrainConfig), layout: 'auto', decoder: 'aspp', data, out: join(root, out), iters };
}

describe('version-1 (flat) training settings', () => {
  it("main's config.json reads into groups, every setting kept", () => {
    expect(fixture.formatVersion).toBe(1);
    const config = readTrainConfig(fixture.training, fixture.formatVersion);
    expect(config.model).toEqual({
      head: 'egb:pow3:alpha=0.001,beta=0',
      backbone: 'resnet18',
      outputStride: 16,
      width: 0.125,
      multiGrid: false,
      decoder: 'aspp',
      auxLoss: 0.5,
    });
    expect(config.data).toEqual({
      root: 'synth',
      split: 'train',
      valSplit: 'val',
      crop: 32,
      batch: 2,
      layout: 'auto',
      photometric: true,
      evalLimit: 1,
    });
    expect(config.optim).toEqual({ lr: 0.01, momentum: 0.9, weightDecay: 0.0001, clipGradNorm: 5, freezeBn: false });
    expect(config.schedule).toEqual({
      iters: 2,
      polyPower: 0.9,
      warmupIters: 1,
      warmupRatio: 0.1,
      evalEvery: 2,
      saveEvery: 0,
      logEvery: 1,
      saveBest: 'mIoU',
    });
    expect(config.run).toEqual({ out: 'run', seed: 4 });
    // Nothing lost or added: the groups flatten back to the file's settings.
    // (plus the fields added since, at their old meaning: --layout auto)
    expect(flattenTrainConfig(config)).toEqual({ ...fixture.training, layout: 'auto', decoder: 'aspp' });
  });

  it('fields added after a run was saved take their old meaning; bad values name the file and the field', () => {
    const { warmupIters: _w, warmupRatio: _r, photometric: _p, ...older } = fixture.training;
    const config = readTrainConfig(older, 1);
    expect(config.schedule.warmupIters).toBe(0);
    expect(config.data.photometric).toBe(false);
    // A version-2 reader does not guess: a missing setting is an error.
    const nested = readTrainConfig(fixture.training, 1) as unknown as Record<string, Record<string, unknown>>;
    const { lr: _lr, ...optim } = nested['optim'] as Record<string, unknown>;
    expect(() => readTrainConfig({ ...nested, optim }, 2, { file: 'c.json', field: 'training' })).toThrow(
      /c\.json: training\.optim\.lr: got nothing, expected a number > 0/,
    );
    const err = (() => {
      try {
        readTrainConfig({ ...fixture.training, lr: 'abc' }, 1, { file: 'old.json', field: 'training' });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(FieldError);
    expect((err as FieldError).message).toBe('old.json: training.lr: got "abc", expected a number > 0');
  });

  it('--config and seg report read it as before: the flat settings', () => {
    const file = 'test/fixtures/config-v1/config.json';
    expect(flattenSections(readConfigFile(file), file)).toEqual(fixture.training);
    expect(flatSettings(fixture.training)).toEqual(fixture.training);
    // ... and a version-2 file gives the same flat settings.
    const nested = JSON.parse(JSON.stringify(readTrainConfig(fixture.training, 1))) as Record<string, unknown>;
    expect(flattenSections(nested, 'v2.json')).toEqual({ ...fixture.training, layout: 'auto', decoder: 'aspp' });
    expect(flatSettings(nested)).toEqual({ ...fixture.training, layout: 'auto', decoder: 'aspp' });
  });

  it('new files are version 2: nested, and read back as they were written', () => {
    expect(CHECKPOINT_FORMAT_VERSION).toBe(TRAIN_CONFIG_VERSION);
    const config = validateTrainConfig(nestTrainConfig(settings('x', 4)));
    expect(readTrainConfig(JSON.parse(JSON.stringify(config)), 2)).toEqual(config);
  });

  it('a run whose config.json main wrote resumes bit-exactly, and is saved as version 2', async () => {
    (await train(nestTrainConfig(settings('straight', 4)))).model.dispose();
    const part = join(root, 'part');
    (await train(nestTrainConfig(settings('part', 2)))).model.dispose();
    // The run's checkpoint as main left it: main's config.json (its dataset moved to this test's).
    const file = join(runCheckpointDir(part), 'config.json');
    writeFileSync(file, JSON.stringify({ ...fixture, training: { ...fixture.training, data, out: part } }, null, 2));
    const lines: string[] = [];
    const resumed = await train(nestTrainConfig(settings('part', 4)), { resume: true, log: (l) => lines.push(l) });
    resumed.model.dispose();
    expect(lines.some((l) => l.startsWith('resuming'))).toBe(true);
    expect(lines.join('\n')).not.toMatch(/keeps the run's own/);
    const [a, b] = [await runWeights(join(root, 'straight')), await runWeights(part)];
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (const [name, values] of a)
      expect(Buffer.from((b.get(name) as Float32Array).buffer).equals(Buffer.from(values.buffer)), name).toBe(true);
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { formatVersion: number; training: Record<string, unknown> };
    expect(saved.formatVersion).toBe(2);
    expect(saved.training).toMatchObject({ schedule: { iters: 4 }, optim: { lr: 0.01 }, data: { root: data } });
  });
});
