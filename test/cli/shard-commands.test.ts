/** Sharded eval and predict through the CLI: parts merge into the unsharded report; a predict shard resumes. */
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { saveCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { tf } from '../../src/engine/tf.js';
import type { PredictManifest } from '../../src/inference/predict-manifest.js';
import { createModel } from '../../src/segmentation/model.js';
import { IMAGENET_NORMALIZATION } from '../../src/data-loading/normalize.js';
import { makeSynthDataset, SYNTH_CLASSES } from '../../src/dataset-makers/synth-dataset.js';
import { removeTempDirs, tempDir } from '../datasets/fixtures.js';
import { runSeg } from './run-cli.js';

let dir: string;
let data: string;
let checkpoint: string;

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
  dir = tempDir('seg-shard-cli-');
  data = (await makeSynthDataset({ out: join(dir, 'synth'), train: 1, val: 7, size: 32, seed: 4 })).root;
  checkpoint = join(dir, 'ck');
  const model = createModel(
    { backbone: 'resnet18', outputStride: 16, width: 0.125, numClasses: SYNTH_CLASSES.length, multiGrid: false },
    5,
  );
  await saveCheckpoint(checkpoint, {
    model,
    head: { kind: 'softmax' },
    classNames: SYNTH_CLASSES,
    normalization: IMAGENET_NORMALIZATION,
    iteration: 3,
  });
  model.dispose();
});
afterEach(() => {
  delete process.env['SEG_SHARD'];
  delete process.env['JOB_COMPLETION_INDEX'];
});
afterAll(removeTempDirs);

const evalArgs = (): string[] => ['eval', '--checkpoint', checkpoint, '--data', data, '--backend', 'wasm'];

describe('seg eval --shard / --save-counts / --merge', () => {
  it('merges 3 sharded evals into exactly the unsharded report, text and JSON', async () => {
    const wholeJson = await runSeg([...evalArgs(), '--json']);
    expect(wholeJson.code, wholeJson.err).toBe(0);
    const wholeText = await runSeg(evalArgs());
    expect(wholeText.code, wholeText.err).toBe(0);

    const parts = [0, 1, 2].map((i) => join(dir, 'parts', `part-${i}.json`));
    const s0 = await runSeg([...evalArgs(), '--shard', '0/3', '--save-counts', parts[0] as string, '--json']);
    expect(s0.code, s0.err).toBe(0);
    const s0Json = JSON.parse(s0.out) as { images: number; shard: unknown };
    expect(s0Json.images).toBe(3);
    expect(s0Json.shard).toEqual({ index: 0, count: 3 });
    process.env['SEG_SHARD'] = '1/3';
    const s1 = await runSeg([...evalArgs(), '--save-counts', parts[1] as string]);
    expect(s1.code, s1.err).toBe(0);
    expect(s1.out).toMatch(/2 images of 'val' \(shard 1\/3\)\n$/);
    delete process.env['SEG_SHARD'];
    process.env['JOB_COMPLETION_INDEX'] = '2';
    const s2 = await runSeg([...evalArgs(), '--shards', '3', '--save-counts', parts[2] as string]);
    expect(s2.code, s2.err).toBe(0);
    expect(s2.out).toMatch(/2 images of 'val' \(shard 2\/3\)/);

    const mergedJson = await runSeg(['eval', '--merge', ...parts, '--json']);
    expect(mergedJson.code, mergedJson.err).toBe(0);
    expect(mergedJson.out).toBe(wholeJson.out);
    expect(Object.keys(JSON.parse(mergedJson.out) as object)).toEqual([
      'checkpoint',
      'split',
      'iteration',
      'mIoU',
      'aAcc',
      'mAcc',
      'fwIoU',
      'images',
      'classes',
      'skipped',
    ]);
    const mergedText = await runSeg(['eval', '--merge', ...[...parts].reverse()]);
    expect(mergedText.code, mergedText.err).toBe(0);
    expect(mergedText.out).toBe(wholeText.out);
    expect(mergedText.out).toMatch(/7 images of 'val'\n$/);

    const part = JSON.parse(readFileSync(parts[0] as string, 'utf8')) as {
      checkpoint: { iteration: number; modelSha256: string };
      classNames: string[];
    };
    expect(part.checkpoint.iteration).toBe(3);
    expect(part.checkpoint.modelSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(part.classNames).toEqual(SYNTH_CLASSES);

    const missing = await runSeg(['eval', '--merge', parts[0] as string, parts[2] as string]);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/error: --merge: 1 of 3 shards missing \(1\/3\)/);
  });

  it('refuses bad shard values and flag combinations with one-line errors', async () => {
    const cases: [string[], RegExp, Record<string, string>?][] = [
      [[...evalArgs(), '--shard', '3/3'], /--shard: got '3\/3', the shard index must be in 0..2/],
      [[...evalArgs(), '--shard', '1/0'], /--shard: got '1\/0', the shard count must be an integer >= 1/],
      [[...evalArgs(), '--shard', 'half'], /--shard: got 'half', expected i\/n/],
      [[...evalArgs(), '--shards', '0'], /--shards: got '0', expected an integer >= 1/],
      [[...evalArgs(), '--shards', '2'], /--shards 2: JOB_COMPLETION_INDEX is not set/],
      [[...evalArgs()], /SEG_SHARD: got '9\/4'/, { SEG_SHARD: '9/4' }],
      [['eval', '--merge', join(dir, 'x.json'), '--checkpoint', checkpoint], /--merge: cannot be combined with --checkpoint/],
      [['eval', '--merge', join(dir, 'x.json')], /x.json: no such file/],
      [['eval', '--checkpoint', checkpoint], /--data DIR is required/],
      [['predict', '--checkpoint', checkpoint, '--input', data, '--output', join(dir, 'o'), '--shard', '2/2'], /--shard: got '2\/2'/],
    ];
    for (const [args, message, env] of cases) {
      Object.assign(process.env, env ?? {});
      const r = await runSeg(args);
      delete process.env['SEG_SHARD'];
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.err, args.join(' ')).toMatch(message);
      expect(r.err).not.toMatch(/\n\s+at /);
    }
  });
});

describe('seg predict --shard', () => {
  it('splits the inputs over shards, keeps a manifest per shard and resumes where it stopped', async () => {
    const input = join(dir, 'images');
    mkdirSync(input);
    for (const f of readdirSync(join(data, 'JPEGImages'))) copyFileSync(join(data, 'JPEGImages', f), join(input, f));
    writeFileSync(join(input, 'zz-notes.txt'), 'not an image');
    const out = join(dir, 'masks');
    const predict = (shard: string, ...extra: string[]): Promise<Awaited<ReturnType<typeof runSeg>>> =>
      runSeg(['predict', '--checkpoint', checkpoint, '--input', input, '--output', out, '--shard', shard, '--backend', 'wasm', ...extra]);
    const images = readdirSync(input).filter((f) => f.endsWith('.jpg'));
    expect(images).toHaveLength(8);

    const r0 = await predict('0/2');
    expect(r0.code, r0.err).toBe(0);
    const r1 = await predict('1/2');
    expect(r1.code, r1.err).toBe(0);
    const manifest = (i: number): PredictManifest =>
      JSON.parse(readFileSync(join(out, `seg-predict-shard-${i}-of-2.json`), 'utf8')) as PredictManifest;
    const [m0, m1] = [manifest(0), manifest(1)];
    // 9 files sorted: 8 images, then zz-notes.txt; shard 0 takes the first 5, shard 1 the last 4
    expect([m0.inputs, m1.inputs]).toEqual([5, 4]);
    expect([m0.done.length, m1.done.length]).toEqual([5, 3]);
    expect(m1.skipped.map((s) => s.input)).toEqual([join(input, 'zz-notes.txt')]);
    expect(m0.skipped).toEqual([]);
    expect([m0.complete, m1.complete]).toEqual([true, true]);
    const doneInputs = [...m0.done, ...m1.done].map((d) => d.input);
    expect(doneInputs).toEqual(images.map((f) => join(input, f)).sort());
    const masks = readdirSync(out).filter((f) => f.endsWith('.png'));
    expect(masks.sort()).toEqual(images.map((f) => f.replace(/\.jpg$/, '.png')).sort());

    // age every mask, delete one of shard 1, rerun shard 1: only that one is predicted again
    const old = new Date('2020-01-01T00:00:00Z');
    for (const m of masks) utimesSync(join(out, m), old, old);
    const victim = m1.done[1] as { mask: string };
    rmSync(victim.mask);
    const again = await predict('1/2');
    expect(again.code, again.err).toBe(0);
    expect(again.out).toMatch(/shard 1\/2: 1 mask written to .*, 2 already done; 1 skipped, 0 failed/);
    const touched = masks.filter((m) => statSync(join(out, m)).mtimeMs !== old.getTime());
    expect(touched.map((m) => join(out, m))).toEqual([victim.mask]);
    expect(
      manifest(1)
        .done.map((d) => d.input)
        .sort(),
    ).toEqual(m1.done.map((d) => d.input).sort());

    // a rerun with other settings would mix masks of two kinds: refused, naming the manifest
    const flipped = await predict('1/2', '--flip');
    expect(flipped.code).toBe(1);
    expect(flipped.err).toMatch(/seg-predict-shard-1-of-2.json: this shard was started with --scales 1; rerun with the same settings/);
  });
});
