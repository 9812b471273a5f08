/** Through the CLI: memory check before training, argument errors before the backend line, eval --json provenance, predict safety. */
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSynthDataset } from '../../src/dataset-makers/synth-dataset.js';
import { removeTempDirs, tempDir, writeJpegFile, gradientImage } from '../datasets/fixtures.js';
import { runSeg } from './run-cli.js';

let dir: string;
let data: string;
let run: string;
const small = ['--backbone', 'resnet18', '--width', '0.125', '--crop', '32', '--batch', '2', '--backend', 'wasm'];

beforeAll(async () => {
  dir = tempDir('seg-cli-safety-');
  data = (await makeSynthDataset({ out: join(dir, 'synth'), train: 4, val: 2, size: 40, seed: 1 })).root;
  run = join(dir, 'run');
  const r = await runSeg(['train', '--data', data, ...small, '--iters', '2', '--out', run]);
  expect(r.code, r.err).toBe(0);
});
afterAll(removeTempDirs);

describe('seg train memory check', () => {
  it('stops the default ResNet-101 run before the first step, with the estimate, the limit and settings that fit', async () => {
    const out = join(dir, 'too-big');
    const r = await runSeg(['train', '--data', data, '--backend', 'wasm', '--iters', '1', '--out', out]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      /error: training resnet101 .* at batch 8 x 513x513 needs about \d+\.\d GiB .*more than 2\.80 GiB on the wasm backend \(4 GiB of linear memory/,
    );
    expect(r.err).toMatch(/Settings that fit: /);
    expect(r.err).not.toContain('internal error');
    expect(readdirOrEmpty(out)).toEqual([]);
  });

  it('--help says which settings fit wasm', async () => {
    const r = await runSeg(['train', '--help']);
    expect(r.out).toContain('--skip-memory-check');
    expect(r.out).toMatch(/fit the wasm backend/);
    expect(r.out).toContain('--backbone resnet18 --width 0.25 --crop 321 --batch 8');
  });

  it('prints no backend line before argument errors', async () => {
    const train = await runSeg(['train', '--data', join(dir, 'nowhere'), '--backend', 'wasm']);
    expect(train.code).toBe(1);
    expect(train.err).not.toContain('backend:');
    const predict = await runSeg(['predict', '--checkpoint', run, '--input', data, '--output', join(data, 'masks'), '--backend', 'wasm']);
    expect(predict.code).toBe(1);
    expect(predict.err).toMatch(/lies inside the input folder/);
    expect(predict.err).not.toContain('backend:');
    const missing = await runSeg([
      'predict',
      '--checkpoint',
      join(dir, 'nope'),
      '--input',
      data,
      '--output',
      join(dir, 'm'),
      '--backend',
      'wasm',
    ]);
    expect(missing.err).not.toContain('backend:');
  });
});

describe('seg eval --json', () => {
  it('records the checkpoint, split and iteration scored, and takes --mode/--window/--overlap', async () => {
    const r = await runSeg([
      'eval',
      '--checkpoint',
      run,
      '--data',
      data,
      '--json',
      '--backend',
      'wasm',
      '--mode',
      'slide',
      '--window',
      '24',
      '--overlap',
      '1/3',
    ]);
    expect(r.code, r.err).toBe(0);
    const json = JSON.parse(r.out) as { checkpoint: string; split: string; iteration: number; images: number; skipped: unknown[] };
    expect(json.checkpoint).toContain(run);
    expect(json.split).toBe('val');
    expect(json.iteration).toBe(2);
    expect(json.images).toBe(2);
    expect(json.skipped).toEqual([]);
    const bad = await runSeg(['eval', '--checkpoint', run, '--data', data, '--overlap', '3/2']);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/--overlap: got '3\/2'/);
  });
});

describe('seg predict never touches its inputs', () => {
  it('an output path through a symlink to the input folder is refused; listed files get masks beside them safely', async () => {
    const in2 = join(dir, 'in2');
    mkdirSync(in2);
    await writeJpegFile(join(in2, 'a.jpg'), gradientImage(20, 16));
    symlinkSync(in2, join(dir, 'link2'));
    const before = readFileSync(join(in2, 'a.jpg'));
    const folder = await runSeg(['predict', '--checkpoint', run, '--input', in2, '--output', join(dir, 'link2'), '--backend', 'wasm']);
    expect(folder.code).toBe(1);
    expect(folder.err).toMatch(/error: --output .*link2 is the input folder/);
    const listed = await runSeg([
      'predict',
      '--checkpoint',
      run,
      '--input',
      join(in2, 'a.jpg'),
      '--output',
      join(dir, 'link2'),
      '--backend',
      'wasm',
    ]);
    expect(listed.code, listed.err).toBe(0);
    expect(readFileSync(join(in2, 'a.jpg'))).toEqual(before);
    expect(readdirOrEmpty(in2).sort()).toEqual(['a.jpg', 'a.png']);
    const fileOut = await runSeg(['predict', '--checkpoint', run, '--input', in2, '--output', join(in2, 'a.jpg'), '--backend', 'wasm']);
    expect(fileOut.code).toBe(1);
    expect(fileOut.err).not.toContain('internal error');
  });
});

function readdirOrEmpty(path: string): string[] {
  return existsSync(path) ? readdirSync(path) : [];
}
