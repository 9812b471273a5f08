/** seg train/trace --config: the shipped recipes, flags over the file, unknown keys, YAML, a run's config.json reproducing it. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closestKey, editDistance } from '../../src/cli/config-file.js';
import { makeSynthDataset } from '../../src/dataset-makers/synth-dataset.js';
import { removeTempDirs, tempDir } from '../datasets/fixtures.js';
import { runSeg } from './run-cli.js';

const repo = join(import.meta.dirname, '..', '..');
let dir: string;
let data: string;

/** The `seg train` command of the README's "A first real run", as arguments (after `npx seg`). */
function readmeFirstRunArgs(): string[] {
  const readme = readFileSync(join(repo, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### A first real run'));
  const start = section.indexOf('npx seg train ');
  const lines: string[] = [];
  for (const line of section.slice(start).split('\n')) {
    lines.push(line.replace(/\\$/, ''));
    if (!line.endsWith('\\')) break;
  }
  return lines.join(' ').split(/\s+/).filter(Boolean).slice(2);
}

async function printConfig(args: string[]): Promise<Record<string, unknown>> {
  const r = await runSeg([...args, '--print-config']);
  expect(r.code, r.err).toBe(0);
  return JSON.parse(r.out) as Record<string, unknown>;
}

beforeAll(async () => {
  dir = tempDir('seg-config-');
  data = (await makeSynthDataset({ out: join(dir, 'synth'), train: 4, val: 1, size: 32, seed: 3 })).root;
});

afterAll(removeTempDirs);

describe('configs/ recipes', () => {
  it("configs/fashion-first-run.json is the README's first real run, setting for setting", async () => {
    const args = readmeFirstRunArgs();
    expect(args[0]).toBe('train');
    expect(args).toContain('--lr');
    const fromFlags = await printConfig(args);
    const fromFile = await printConfig(['train', '--config', join(repo, 'configs', 'fashion-first-run.json')]);
    expect(fromFile).toEqual(fromFlags);
  });

  it('and trains the same weights over 20 iterations (sizes shrunk by the same flags on both)', async () => {
    const shrink = ['--data', data, '--iters', '20', '--width', '0.125', '--crop', '32', '--batch', '2'];
    const rest = ['--eval-every', '0', '--save-every', '0', '--eval-limit', '1', '--backend', 'wasm'];
    const flagsRun = join(dir, 'flags');
    const fileRun = join(dir, 'file');
    const a = await runSeg([...readmeFirstRunArgs(), ...shrink, ...rest, '--out', flagsRun]);
    expect(a.code, a.err).toBe(0);
    const b = await runSeg(['train', '--config', join(repo, 'configs', 'fashion-first-run.json'), ...shrink, ...rest, '--out', fileRun]);
    expect(b.code, b.err).toBe(0);
    const weights = (run: string): Buffer => readFileSync(join(run, 'checkpoint', 'model.safetensors'));
    expect(weights(fileRun).equals(weights(flagsRun))).toBe(true);
    const training = (run: string): Record<string, unknown> => {
      const t = (JSON.parse(readFileSync(join(run, 'checkpoint', 'config.json'), 'utf8')) as { training: Record<string, unknown> })
        .training;
      return { ...t, run: { ...(t['run'] as Record<string, unknown>), out: '' } };
    };
    expect(training(fileRun)).toEqual(training(flagsRun));

    // The run's own config.json reproduces it.
    const again = join(dir, 'again');
    const c = await runSeg(['train', '--config', join(flagsRun, 'checkpoint', 'config.json'), '--out', again, '--backend', 'wasm']);
    expect(c.code, c.err).toBe(0);
    expect(weights(again).equals(weights(flagsRun))).toBe(true);
  });

  it('the VOC recipe and the reproduction-v2 trace resolve', async () => {
    const voc = await printConfig(['train', '--config', join(repo, 'configs', 'voc-deeplabv3-r101.json')]);
    expect(voc).toMatchObject({
      model: { backbone: 'resnet101' },
      data: { crop: 513, batch: 8, split: 'trainaug' },
      optim: { lr: 0.007 },
      schedule: { iters: 30000 },
    });
    const v2 = await printConfig(['trace', '--config', join(repo, 'configs', 'fashion-reproduction-v2.json')]);
    expect(v2).toMatchObject({
      heads: ['softmax', 'egb', 'egb:exp:alpha=0.3', 'egb:pow3', 'linear'],
      lrs: [0.02, 0.05, 0.1],
      seeds: [0],
      model: { width: 0.5 },
      schedule: { iters: 8000, evalEvery: 250 },
    });
  });
});

describe('--config rules', () => {
  it('a typed flag wins over the file; YAML files work; booleans and numbers keep their types', async () => {
    const file = join(dir, 'recipe.yaml');
    writeFileSync(file, '# a comment\ncrop: 64\nlr: 0.1\nphotometric: true\nwarmupIters: 10\nsaveBest: mIoU\n');
    const c = await printConfig(['train', '--config', file, '--lr', '0.2']);
    expect(c).toMatchObject({
      data: { crop: 64, photometric: true },
      optim: { lr: 0.2 },
      schedule: { warmupIters: 10, saveBest: 'mIoU' },
    });
  });

  it("sections as in a run's config.json (and mmseg's configs) set the same options as flat keys", async () => {
    const nested = join(dir, 'nested.yaml');
    writeFileSync(
      nested,
      'model:\n  backbone: resnet18\n  outputStride: 8\ndata:\n  crop: 64\noptim:\n  lr: 0.1\nschedule:\n  iters: 50\nrun:\n  seed: 3\n',
    );
    const flat = join(dir, 'flat.yaml');
    writeFileSync(flat, 'backbone: resnet18\noutputStride: 8\ncrop: 64\nlr: 0.1\niters: 50\nseed: 3\n');
    const fromNested = await printConfig(['train', '--config', nested]);
    expect(fromNested).toEqual(await printConfig(['train', '--config', flat]));
    expect(fromNested).toMatchObject({ model: { backbone: 'resnet18', outputStride: 8 }, run: { seed: 3 } });
    writeFileSync(nested, JSON.stringify({ optim: { lrr: 0.1 } }));
    expect((await runSeg(['train', '--config', nested, '--data', data])).err).toContain(
      "unknown key 'optim.lrr'; did you mean 'optim.lr'?",
    );
    writeFileSync(nested, JSON.stringify({ lr: 0.2, optim: { lr: 0.1 } }));
    expect((await runSeg(['train', '--config', nested, '--data', data])).err).toContain(
      "'optim.lr' and 'lr' set the same option (--lr); keep one",
    );
  });

  it('an unknown key names the file, the key and the closest known key', async () => {
    const file = join(dir, 'typo.json');
    writeFileSync(file, JSON.stringify({ crop_size: 321 }));
    const r = await runSeg(['train', '--config', file, '--data', data]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`error: ${file}: unknown key 'crop_size'; did you mean 'crop' (--crop)?`);
    writeFileSync(file, JSON.stringify({ evalEvry: 10 }));
    expect((await runSeg(['train', '--config', file, '--data', data])).err).toMatch(/did you mean 'evalEvery' \(--eval-every\)/);
  });

  it('a bad value names the file and the key, with the rule of its flag', async () => {
    const file = join(dir, 'bad.json');
    for (const [settings, message] of [
      [{ crop: 'big' }, /bad\.json: crop: got 'big', expected an integer/],
      [{ backbone: 'resnet7' }, /bad\.json: backbone: got "resnet7", expected one of resnet18, resnet34, resnet50, resnet101/],
      [{ photometric: 'yes' }, /bad\.json: photometric: got "yes", expected true or false/],
      [{ lr: 0 }, /--lr: got 0, expected a number > 0/],
    ] as const) {
      writeFileSync(file, JSON.stringify(settings));
      const r = await runSeg(['train', '--config', file, '--data', data, '--backend', 'wasm']);
      expect(r.code, JSON.stringify(settings)).toBe(1);
      expect(r.err).toMatch(message);
    }
    writeFileSync(file, '{ not json');
    expect((await runSeg(['train', '--config', file])).err).toMatch(/bad\.json: not valid JSON/);
    expect((await runSeg(['train', '--config', join(dir, 'none.json')])).err).toMatch(/--config .*none\.json: no such file/);
  });

  it('closest keys', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(closestKey('weight_decay', ['weightDecay', 'width'])).toBe('weightDecay');
    expect(closestKey('lrs', ['lr', 'logEvery'])).toBe('lr');
  });
});
