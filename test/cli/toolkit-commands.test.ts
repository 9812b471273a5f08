/** The end-to-end commands through the CLI: train, resume, eval --json, predict, trace, compare, demo, and their user errors. */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSynthDataset } from '../../src/dataset-makers/synth-dataset.js';
import { removeTempDirs, tempDir } from '../datasets/fixtures.js';
import { runSeg } from './run-cli.js';

let dir: string;
let data: string;
const small = ['--backbone', 'resnet18', '--width', '0.125', '--crop', '32', '--batch', '2', '--backend', 'wasm'];

beforeAll(async () => {
  dir = tempDir('seg-cli-');
  data = (await makeSynthDataset({ out: join(dir, 'synth'), train: 6, val: 3, size: 40, seed: 1 })).root;
});
afterAll(removeTempDirs);

describe('seg train / eval / predict', () => {
  it('trains with each head, resumes, evaluates as JSON and predicts a folder', async () => {
    for (const head of ['softmax', 'linear']) {
      const r = await runSeg(['train', '--data', data, '--head', head, ...small, '--iters', '2', '--out', join(dir, `run-${head}`)]);
      expect(r.code, r.err).toBe(0);
    }
    const egb = await runSeg([
      'train',
      '--data',
      data,
      '--head',
      'egb',
      '--boost',
      'pow3',
      '--egb-alpha',
      '0.01',
      ...small,
      '--iters',
      '3',
      '--out',
      join(dir, 'run-egb'),
    ]);
    expect(egb.code, egb.err).toBe(0);
    expect(egb.err).toContain('egb:pow3:alpha=0.01,beta=0');
    const again = await runSeg(['train', '--data', data, ...small, '--iters', '3', '--out', join(dir, 'run-egb')]);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/error: --out: .*run-egb already holds a run; continue it with --resume, or choose another --out/);
    // --resume --out needs no --data; a finished run says so.
    const finished = await runSeg(['train', '--resume', '--out', join(dir, 'run-egb'), '--backend', 'wasm']);
    expect(finished.code, finished.err).toBe(0);
    expect(finished.out).toMatch(
      /run-egb: the run is finished \(3 iterations, val mIoU [\d.]+% at its last evaluation\); nothing to train. Raise --iters/,
    );
    const resumed = await runSeg(['train', '--data', data, ...small, '--iters', '5', '--resume', '--out', join(dir, 'run-egb')]);
    expect(resumed.code, resumed.err).toBe(0);
    expect(resumed.out).toMatch(/5 iterations/); // a higher --iters extends the run
    expect(resumed.err).toMatch(/extending the run from 3 to 5 iterations/);

    const ev = await runSeg(['eval', '--miou', '--checkpoint', join(dir, 'run-softmax'), '--data', data, '--json', '--backend', 'wasm']);
    expect(ev.code, ev.err).toBe(0);
    const json = JSON.parse(ev.out) as { mIoU: number; images: number; classes: { name: string; iou: number | null }[] };
    expect(json.images).toBe(3);
    expect(json.classes.map((c) => c.name)).toEqual(['background', 'disc', 'square', 'triangle', 'ring', 'cross']);

    const pr = await runSeg([
      'predict',
      '--checkpoint',
      join(dir, 'run-linear'),
      '--input',
      join(data, 'JPEGImages'),
      '--output',
      join(dir, 'masks'),
      '--backend',
      'wasm',
    ]);
    expect(pr.code, pr.err).toBe(0);
    expect(readdirSync(join(dir, 'masks'))).toHaveLength(9);
  });

  it('turns user mistakes into one-line errors and a non-zero exit', async () => {
    const cases: [string[], RegExp][] = [
      [['train', '--data', join(dir, 'nowhere'), ...small], /nowhere/],
      [['train', '--data', data, '--lr', 'fast', ...small], /--lr: got 'fast'/],
      [['train', '--data', data, '--head', 'sigmoid', ...small], /--head: got 'sigmoid', expected one of/],
      [['train', '--data', data, '--head', 'softmax', '--boost', 'exp', ...small], /apply to --head egb only/],
      [['eval', '--data', data], /exactly one of --checkpoint DIR .* or --predictions DIR/],
      [['eval', '--checkpoint', join(dir, 'nowhere'), '--data', data], /no such checkpoint directory/],
      [
        ['predict', '--checkpoint', join(dir, 'run-linear'), '--input', join(dir, 'none.jpg'), '--output', join(dir, 'o')],
        /--input .*none.jpg: no such file or folder/,
      ],
      [['trace', '--data', data, '--heads', 'softmax,bogus', '--out', join(dir, 't'), ...small], /--heads: got 'bogus'/],
    ];
    for (const [args, message] of cases) {
      const r = await runSeg(args);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.err, args.join(' ')).toMatch(message);
      expect(r.err).not.toMatch(/\n\s+at /); // no stack trace
    }
  });
});

describe('seg trace / compare / demo', () => {
  it('traces two heads, compares them and writes the charts', async () => {
    const out = join(dir, 'trace');
    const tr = await runSeg([
      'trace',
      '--data',
      data,
      '--heads',
      'softmax,egb',
      '--iters',
      '2',
      '--eval-every',
      '1',
      '--out',
      out,
      ...small,
    ]);
    expect(tr.code, tr.err).toBe(0);
    const cmp = await runSeg(['compare', out, '--format', 'json']);
    expect(cmp.code, cmp.err).toBe(0);
    const parsed = JSON.parse(cmp.out) as { heads: { head: string; bestMIoU: number }[] };
    expect(parsed.heads.map((h) => h.head)).toEqual(['softmax', 'egb']);
    for (const f of ['trace.csv', 'miou.svg', 'miou.png', 'loss.svg', 'loss.png']) expect(existsSync(join(out, f)), f).toBe(true);
  });

  it('runs the demo end to end (shortened)', async () => {
    const out = join(dir, 'demo');
    const r = await runSeg(['demo', '--out', out, '--iters', '2', '--eval-every', '1', '--backend', 'wasm']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('softmax vs egb');
    expect(r.out).toMatch(/masks: .*_overlay\.jpg/);
    expect(existsSync(join(out, 'trace', 'miou.png'))).toBe(true);
  });
});
