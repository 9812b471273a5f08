/** seg train: library field errors become flag errors, and resume lists only the flags typed, by their CLI names. */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FieldError } from '../../src/core/schema.js';
import { SegError } from '../../src/core/errors.js';
import { cliMessage, flagOf } from '../../src/cli/field-flags.js';
import { makeSynthDataset } from '../../src/dataset-makers/synth-dataset.js';
import { removeTempDirs, tempDir } from '../datasets/fixtures.js';
import { runSeg } from './run-cli.js';

const small = ['--backbone', 'resnet18', '--width', '0.125', '--crop', '32', '--batch', '2', '--eval-limit', '1', '--backend', 'wasm'];
let dir: string;
let data: string;

beforeAll(async () => {
  dir = tempDir('seg-train-cli-');
  data = (await makeSynthDataset({ out: join(dir, 'synth'), train: 4, val: 2, size: 36, seed: 1 })).root;
});

afterAll(removeTempDirs);

describe('fields and flags', () => {
  it('maps a field to its flag, other fields named in backticks too; errors about files keep field names', () => {
    expect(flagOf('valSplit')).toBe('--val-split');
    expect(flagOf('numClasses')).toBe('--classes');
    expect(cliMessage(new FieldError('batch', 'got 1; use 2, or `freezeBn`'))).toBe('--batch: got 1; use 2, or --freeze-bn');
    expect(cliMessage(new FieldError('training.lr', 'got "abc"', '/r/config.json'))).toBe('/r/config.json: training.lr: got "abc"');
    expect(cliMessage(new SegError('the loss is NaN; try a lower `lr`'))).toBe('the loss is NaN; try a lower --lr');
  });

  it('a bad --val-split is named as --val-split, before training', async () => {
    const r = await runSeg(['train', '--data', data, ...small, '--iters', '2', '--val-split', 'nope', '--out', join(dir, 'bad-val')]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/error: --val-split: got 'nope', expected one of train, trainval, val/);
  });

  it('--batch 1 names --batch and --freeze-bn', async () => {
    const r = await runSeg(['train', '--data', data, ...small, '--batch', '1', '--iters', '1', '--out', join(dir, 'b1')]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      /error: --batch: got 1; batch norm needs at least 2 samples .* or freeze the batch-norm statistics \(--freeze-bn\)/,
    );
  });

  it('flag ranges come from the one training schema, before the backend starts', async () => {
    const cases: [string[], RegExp][] = [
      [['--lr', '0'], /error: --lr: got 0, expected a number > 0/],
      [['--momentum', '1.5'], /error: --momentum: got 1.5, expected a number in \[0, 1\]/],
      [['--crop', '4'], /error: --crop: got 4, expected an integer >= 8/],
      [['--seed', '-1'], /error: --seed: got -1, expected an integer in \[0, 4294967295\]/],
      [['--iters', '2.5'], /error: --iters: got '2.5', expected an integer/],
      [['--clip-grad-norm', '0'], /error: --clip-grad-norm: got 0, expected a number > 0/],
      [['--aux-loss', '-1'], /error: --aux-loss: got -1, expected a number >= 0/],
      [['--aux-loss', 'half'], /error: --aux-loss: got 'half', expected a number/],
    ];
    for (const [flags, message] of cases) {
      const r = await runSeg(['train', '--data', data, ...small, ...flags, '--out', join(dir, 'ranges')]);
      expect(r.code, flags.join(' ')).toBe(1);
      expect(r.err).toMatch(message);
      expect(r.err, 'no backend line before an argument error').not.toMatch(/backend:/);
    }
    const trace = await runSeg([
      'trace',
      '--data',
      data,
      '--heads',
      'softmax',
      ...small,
      '--log-every',
      '0',
      '--out',
      join(dir, 'trace-ranges'),
    ]);
    expect(trace.err).toMatch(/error: --log-every: got 0, expected an integer >= 1/);
  });

  it('--data is required except for --resume --out', async () => {
    const r = await runSeg(['train', ...small, '--iters', '1', '--out', join(dir, 'no-data')]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/'--data <dir>' not specified \(only --resume --out DIR/);
  });
});

describe('defaults', () => {
  it('info and train share one default backbone; bench states its own', async () => {
    const info = JSON.parse((await runSeg(['info', '--width', '0.25', '--json'])).out) as {
      config?: { backbone: string };
      backbone?: string;
    };
    expect(JSON.stringify(info)).toContain('resnet101');
    const help = (await runSeg(['bench', 'train', '--help'])).out;
    expect(help.replace(/\s+/g, ' ')).toMatch(/seg train and seg info default to resnet101\) \(choices: .* default: "resnet18"\)/);
  });
});

describe('seg train --resume', () => {
  it('refuses another --head, lists only typed flags with CLI names, and says a finished run is finished', async () => {
    const out = join(dir, 'run');
    expect((await runSeg(['train', '--data', data, ...small, '--iters', '2', '--out', out])).code).toBe(0);
    const head = await runSeg(['train', '--resume', '--out', out, '--head', 'egb', '--backend', 'wasm']);
    expect(head.code).toBe(1);
    expect(head.err).toMatch(
      /error: --head: got "egb" \(egb:exp:alpha=[\d.]+,beta=0\), but the run in .* was trained with "softmax"; a resumed run keeps its model. Leave --head out to resume, or choose another --out/,
    );

    const more = await runSeg(['train', '--resume', '--out', out, '--iters', '3', '--lr', '0.5', '--backend', 'wasm']);
    expect(more.code, more.err).toBe(0);
    expect(more.err).toContain("resume keeps the run's own --lr 0.007 (given 0.5)");
    expect(more.err).toContain('extending the run from 2 to 3 iterations');
    // Defaults not typed (e.g. --crop 513, --batch 8) are not listed as ignored.
    expect(more.err).not.toMatch(/crop|--batch|evalEvery|eval-every/);
    expect(more.out).toMatch(/: 3 iterations, val mIoU/);

    const done = await runSeg(['train', '--resume', '--out', out, '--backend', 'wasm']);
    expect(done.code).toBe(0);
    expect(done.out).toMatch(/the run is finished \(3 iterations, val mIoU .*\); nothing to train. Raise --iters to extend it/);
    expect(done.out).not.toMatch(/NaN/);
    expect(done.err).not.toMatch(/^training /m);
  });

  it('--aux-loss trains the aux classifier into the checkpoint; resuming with another weight is refused', async () => {
    const out = join(dir, 'aux');
    const r = await runSeg(['train', '--data', data, ...small, '--iters', '1', '--aux-loss', '0.5', '--out', out]);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain("with head softmax (+ 0.5 x the aux classifier's loss)");
    const config = JSON.parse(readFileSync(join(out, 'checkpoint', 'config.json'), 'utf8')) as {
      model: { auxClassifier?: boolean };
      training: { model: { auxLoss?: number } };
    };
    expect(config.model.auxClassifier).toBe(true);
    expect(config.training.model.auxLoss).toBe(0.5);
    const other = await runSeg(['train', '--resume', '--out', out, '--aux-loss', '0.4', '--iters', '2', '--backend', 'wasm']);
    expect(other.code).toBe(1);
    expect(other.err).toMatch(/error: --aux-loss: got 0.4, but the run in .* was trained with 0.5; a resumed run keeps its model/);
    // No aux loss (0 or absent) makes no aux classifier.
    const plain = join(dir, 'no-aux');
    expect((await runSeg(['train', '--data', data, ...small, '--iters', '1', '--aux-loss', '0', '--out', plain])).code).toBe(0);
    expect(JSON.parse(readFileSync(join(plain, 'checkpoint', 'config.json'), 'utf8')).model.auxClassifier).toBeUndefined();
  });

  it('refuses an inexact resume (optimizer.safetensors deleted), naming the file and --allow-inexact-resume', async () => {
    const out = join(dir, 'inexact');
    expect((await runSeg(['train', '--data', data, ...small, '--iters', '2', '--out', out])).code).toBe(0);
    rmSync(join(out, 'checkpoint', 'optimizer.safetensors'));
    const refused = await runSeg(['train', '--resume', '--out', out, '--iters', '3', '--backend', 'wasm']);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(
      /error: .*optimizer\.safetensors: missing: the momentum buffers are lost, so the resume cannot be exact\. Resume with --allow-inexact-resume to restart momentum at zero/,
    );
    const allowed = await runSeg(['train', '--resume', '--out', out, '--iters', '3', '--allow-inexact-resume', '--backend', 'wasm']);
    expect(allowed.code, allowed.err).toBe(0);
    expect(allowed.err).toMatch(/inexact resume: the momentum buffers are lost \(momentum restarts at zero\)/);
  });

  it('--resume on a folder without a checkpoint says there is nothing to resume (empty, missing, killed before its first save)', async () => {
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    const killed = join(dir, 'killed');
    mkdirSync(killed);
    writeFileSync(join(killed, 'trace.jsonl'), '{"type":"start","iter":0,"backend":"wasm","adapter":null}\n');
    for (const [out, what] of [
      [empty, 'holds no checkpoint'],
      [join(dir, 'missing'), 'does not exist'],
      [killed, 'holds no checkpoint'],
    ] as const) {
      const r = await runSeg(['train', '--resume', '--out', out, '--backend', 'wasm']);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(new RegExp(`error: --out: .*: ${what}: there is no checkpoint to resume .*start a new run with --data DIR`));
      expect(r.err).not.toMatch(/--data: got ""/);
    }
  });

  it('says "1 iteration"', async () => {
    const r = await runSeg(['train', '--data', data, ...small, '--iters', '1', '--out', join(dir, 'one')]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/: 1 iteration, val mIoU/);
    expect(r.err).toMatch(/1 iteration of batch 2/);
  });
});
