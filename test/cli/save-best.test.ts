/** seg train --save-best: best/ beside checkpoint/, its trace rows and summary; seg eval/predict --best; resume from the last. */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import sharp from 'sharp';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSynthDataset } from '../../src/dataset-makers/synth-dataset.js';
import { readTrace, type BestTraceRow, type EvalTraceRow } from '../../src/training/run-log.js';
import { formatPercent } from '../../src/metrics/metrics-format.js';
import { removeTempDirs, tempDir } from '../datasets/fixtures.js';
import { runSeg } from './run-cli.js';

const small = ['--backbone', 'resnet18', '--width', '0.125', '--crop', '32', '--batch', '2', '--backend', 'wasm', '--lr', '0.05'];
let dir: string;
let data: string;
let run: string;

beforeAll(async () => {
  dir = tempDir('seg-save-best-');
  data = (await makeSynthDataset({ out: join(dir, 'synth'), train: 4, val: 2, size: 32, seed: 6 })).root;
  run = join(dir, 'run');
  const r = await runSeg(['train', '--data', data, ...small, '--iters', '6', '--eval-every', '2', '--save-best', 'mIoU', '--out', run]);
  expect(r.code, r.err).toBe(0);
});

afterAll(removeTempDirs);

function evals(): EvalTraceRow[] {
  return readTrace(run).filter((r): r is EvalTraceRow => r.type === 'eval');
}

describe('--save-best mIoU', () => {
  it('keeps best/ at the first evaluation with the highest mIoU, with trace rows for each new best', async () => {
    const rows = evals();
    expect(rows.map((r) => r.iter)).toEqual([2, 4, 6]);
    let best = -1;
    const improved: number[] = [];
    for (const r of rows) {
      if ((r.mIoU as number) > best) {
        best = r.mIoU as number;
        improved.push(r.iter);
      }
    }
    const bestRows = readTrace(run).filter((r): r is BestTraceRow => r.type === 'best');
    expect(bestRows.map((r) => r.iter)).toEqual(improved);
    expect(bestRows[bestRows.length - 1]?.value).toBe(best);
    expect(bestRows[0]?.previous).toBeNull();
    const config = JSON.parse(readFileSync(join(run, 'best', 'config.json'), 'utf8')) as {
      iteration: number;
      metrics: { mIoU: number };
      training: { schedule: { saveBest: string } };
    };
    expect(config.iteration).toBe(improved[improved.length - 1]);
    expect(config.metrics.mIoU).toBe(best);
    expect(config.training.schedule.saveBest).toBe('mIoU');
    // An inference checkpoint: the weights, no optimizer state.
    expect(existsSync(join(run, 'best', 'model.safetensors'))).toBe(true);
    expect(existsSync(join(run, 'best', 'optimizer.safetensors'))).toBe(false);
  });

  it('seg eval --best prints the mIoU of that evaluation and says which checkpoint it used', async () => {
    const bestRow = readTrace(run)
      .filter((r): r is BestTraceRow => r.type === 'best')
      .pop() as BestTraceRow;
    const r = await runSeg(['eval', '--checkpoint', run, '--best', '--data', data, '--engine', 'tfjs', '--backend', 'wasm']);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain(`checkpoint: ${join(run, 'best')} (iteration ${bestRow.iter}, val mIoU ${formatPercent(bestRow.value)}%`);
    expect(r.out).toMatch(new RegExp(`mIoU\\s+${formatPercent(bestRow.value).replace('.', '\\.')}`));
    const json = await runSeg(['eval', '--checkpoint', run, '--best', '--data', data, '--engine', 'tfjs', '--backend', 'wasm', '--json']);
    const parsed = JSON.parse(json.out) as { mIoU: number; iteration: number; checkpoint: string };
    expect(parsed.mIoU).toBe(bestRow.value);
    expect(parsed.iteration).toBe(bestRow.iter);
    // Without --best: the last checkpoint.
    const last = await runSeg(['eval', '--checkpoint', run, '--data', data, '--engine', 'tfjs', '--backend', 'wasm', '--json']);
    expect((JSON.parse(last.out) as { iteration: number }).iteration).toBe(6);
  });

  it('seg predict --best names the checkpoint; --best without one is a clear error', async () => {
    const image = join(
      data,
      'JPEGImages',
      `${readFileSync(join(data, 'ImageSets', 'Segmentation', 'val.txt'), 'utf8').split('\n')[0]}.jpg`,
    );
    const p = await runSeg([
      'predict',
      '--checkpoint',
      run,
      '--best',
      '--input',
      image,
      '--output',
      join(dir, 'masks'),
      '--backend',
      'wasm',
    ]);
    expect(p.code, p.err).toBe(0);
    expect(p.err).toMatch(/checkpoint: .*best \(iteration \d+/);
    const none = await runSeg(['eval', '--checkpoint', join(run, 'checkpoint'), '--best', '--data', data]);
    expect(none.code).toBe(1);
    expect(none.err).toMatch(/error: --best: .* has no best checkpoint .* --save-best METRIC/);
  });

  it("seg eval --show-dir writes ground truth | prediction per image, as mmseg's, into a folder it owns", async () => {
    const show = join(dir, 'show');
    const r = await runSeg(['eval', '--checkpoint', run, '--data', data, '--show-dir', show, '--engine', 'tfjs', '--backend', 'wasm']);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain(`2 pictures written to ${show}`);
    const ids = readFileSync(join(data, 'ImageSets', 'Segmentation', 'val.txt'), 'utf8')
      .trim()
      .split('\n');
    for (const id of ids) {
      const meta = await sharp(join(show, `${id}.png`)).metadata();
      expect([meta.width, meta.height]).toEqual([64, 32]);
    }
    // Again into its own folder: fine; into a folder of other files: refused, nothing written.
    expect((await runSeg(['eval', '--checkpoint', run, '--data', data, '--show-dir', show, '--backend', 'wasm'])).code).toBe(0);
    const foreign = join(dir, 'foreign');
    mkdirSync(foreign);
    writeFileSync(join(foreign, 'notes.txt'), 'mine');
    const refused = await runSeg(['eval', '--checkpoint', run, '--data', data, '--show-dir', foreign, '--backend', 'wasm']);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/--show-dir .*foreign: the folder holds files seg did not write \(notes\.txt\)/);
    expect(readdirSync(foreign)).toEqual(['notes.txt']);
  });

  it('--resume continues from the last checkpoint, not the best, and keeps a best that stays unbeaten', async () => {
    // Make the recorded best unbeatable: a resumed run must not replace it, and must not start from it.
    const file = join(run, 'best', 'config.json');
    const config = JSON.parse(readFileSync(file, 'utf8')) as { iteration: number; metrics: Record<string, number> };
    writeFileSync(file, JSON.stringify({ ...config, metrics: { ...config.metrics, mIoU: 0.999 } }));
    const r = await runSeg(['train', '--resume', '--out', run, '--iters', '8', '--backend', 'wasm']);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/resuming .* at iteration 6 of 8/);
    expect(r.out).toMatch(new RegExp(`8 iterations, val mIoU [\\d.]+%; best val mIoU 99.90% at iteration ${config.iteration}`));
    const after = JSON.parse(readFileSync(file, 'utf8')) as { iteration: number };
    expect(after.iteration).toBe(config.iteration);
    expect(evals().map((e) => e.iter)).toEqual([2, 4, 6, 8]);
  });
});
