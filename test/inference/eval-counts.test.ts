import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluatePredictions } from '../../src/inference/evaluate.js';
import {
  evalCountsOf,
  evalShardIds,
  mergeEvalCounts,
  readEvalCounts,
  writeEvalCounts,
  type EvalCounts,
  type EvalCountsContext,
} from '../../src/inference/eval-counts.js';
import type { ShardSpec } from '../../src/inference/shards.js';
import type { Dataset } from '../../src/datasets/dataset.js';
import { openDataset } from '../../src/datasets/open-dataset.js';
import { writeLabelPng } from '../../src/image/label-png.js';
import { gradientImage, removeTempDirs, tempDir, writeVocFixture } from '../datasets/fixtures.js';

const CLASSES = ['bg', 'cat', 'dog'];
const IDS = ['s0', 's1', 's2', 's3', 's4', 's5', 's6'];
let root: string;
let preds: string;
let dataset: Dataset;

/** Deterministic pseudo-random values in 0..k-1 (a small LCG), with some void (255) when `voids`. */
function randomLabels(n: number, seed: number, k: number, voids: boolean): Uint8Array {
  let s = seed;
  return Uint8Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    const v = s % (k + 1);
    return v === k ? (voids ? 255 : 0) : v;
  });
}

beforeAll(async () => {
  const dir = tempDir('seg-counts-');
  root = join(dir, 'voc');
  preds = join(dir, 'preds');
  await writeVocFixture(
    root,
    IDS.map((id, i) => ({ id, image: gradientImage(5, 4, i), label: { width: 5, height: 4, data: randomLabels(20, 11 + i, 3, true) } })),
    { val: IDS, train: IDS.slice(0, 3) },
    CLASSES,
  );
  mkdirSync(preds);
  for (const [i, id] of IDS.entries())
    writeLabelPng(join(preds, `${id}.png`), { width: 5, height: 4, data: randomLabels(20, 101 + i, 3, false) });
  dataset = openDataset(root);
});
afterAll(removeTempDirs);

function context(all: readonly string[], shard: ShardSpec | undefined, over: Partial<EvalCountsContext> = {}): EvalCountsContext {
  return {
    checkpoint: null,
    predictions: preds,
    split: 'val',
    splitIds: all,
    shard,
    settings: { scales: [1], flip: false, limit: null, padToStride: false },
    classNames: CLASSES,
    ...over,
  };
}

/** Evaluate shard i/n of the val split and write its counts file; returns the file. */
async function part(dir: string, index: number, count: number, over: Partial<EvalCountsContext> = {}): Promise<string> {
  const shard = { index, count };
  const ids = evalShardIds(dataset, 'val', undefined, shard);
  const result = await evaluatePredictions(preds, dataset, 'val', { ids: ids.mine });
  const file = join(dir, `part-${index}.json`);
  writeEvalCounts(file, evalCountsOf(result, context(ids.all, shard, over)));
  return file;
}

describe('mergeEvalCounts', () => {
  it('merges 3 shards into exactly the unsharded evaluation', async () => {
    const whole = await evaluatePredictions(preds, dataset, 'val');
    const dir = tempDir('seg-parts-');
    const files = [await part(dir, 2, 3), await part(dir, 0, 3), await part(dir, 1, 3)];
    const merged = mergeEvalCounts(files);
    expect(merged.images).toBe(7);
    expect(merged.parts.map((p) => p.counts.images)).toEqual([3, 2, 2]);
    expect(Array.from(merged.confusion.counts)).toEqual(Array.from(whole.confusion.counts));
    expect(merged.metrics).toEqual(whole.metrics); // every field, bit for bit
    expect(merged.split).toBe('val');
    // the matrix is not trivial: off-diagonal counts and every class present
    const c = whole.confusion;
    expect(c.get(0, 1) + c.get(1, 2) + c.get(2, 0)).toBeGreaterThan(0);
    expect(whole.metrics.classes.every((m) => m.pixels > 0)).toBe(true);
    // the saved matrix holds the raw integers, rows = truth
    const saved = JSON.parse(readFileSync(files[1] as string, 'utf8')) as EvalCounts;
    expect(saved.confusion.flat().every((v) => Number.isInteger(v))).toBe(true);
    expect(Object.keys(saved)).toEqual([
      'format',
      'formatVersion',
      'checkpoint',
      'predictions',
      'split',
      'splitIds',
      'splitIdsSha256',
      'shard',
      'settings',
      'images',
      'classNames',
      'confusion',
      'packageVersion',
      'savedAt',
    ]);
  });

  it('applies --limit before cutting, like the unsharded run', async () => {
    const whole = await evaluatePredictions(preds, dataset, 'val', { limit: 5 });
    const dir = tempDir('seg-parts-');
    const files: string[] = [];
    for (let i = 0; i < 2; i++) {
      const shard = { index: i, count: 2 };
      const ids = evalShardIds(dataset, 'val', 5, shard);
      const result = await evaluatePredictions(preds, dataset, 'val', { ids: ids.mine, limit: 5 });
      files.push(join(dir, `p${i}.json`));
      writeEvalCounts(
        files[i] as string,
        evalCountsOf(result, context(ids.all, shard, { settings: { scales: [1], flip: false, limit: 5, padToStride: false } })),
      );
    }
    expect(mergeEvalCounts(files).metrics).toEqual(whole.metrics);
  });

  it('refuses parts that do not belong together, a missing or duplicated shard and corrupt parts, naming the file', async () => {
    const dir = tempDir('seg-bad-parts-');
    const good = [await part(dir, 0, 3), await part(dir, 1, 3), await part(dir, 2, 3)];
    const g0 = good[0] as string;
    const g1 = good[1] as string;
    const g2 = good[2] as string;
    const variant = (name: string, edit: (c: EvalCounts) => void): string => {
      const c = JSON.parse(readFileSync(g2, 'utf8')) as EvalCounts;
      edit(c);
      const file = join(dir, name);
      writeFileSync(file, JSON.stringify(c));
      return file;
    };
    const identity = { path: '/ck', iteration: 5, modelSha256: 'a'.repeat(64) };
    const cases: [string[], RegExp][] = [
      [[g0, g1], /--merge: 1 of 3 shards missing \(2\/3\)/],
      [[g0, g1, g2, g1], /part-1.json: shard 1\/3 is given twice \(also .*part-1.json\)/],
      [
        [
          g0,
          g1,
          variant('classes.json', (c) => {
            c.classNames = ['bg', 'cat', 'bird'];
          }),
        ],
        /classes.json: cannot be merged with .*part-0.json: its classes \[bg, cat, bird\] differ/,
      ],
      [
        [
          g0,
          g1,
          variant('split.json', (c) => {
            c.split = 'train';
          }),
        ],
        /split.json: .* it is of split 'train', not 'val'/,
      ],
      [
        [
          g0,
          g1,
          variant('source.json', (c) => {
            c.checkpoint = identity;
            c.predictions = null;
          }),
        ],
        /source.json: .* it scores checkpoint \/ck \(iteration 5/,
      ],
      [
        [
          g0,
          g1,
          variant('preds.json', (c) => {
            c.predictions = '/elsewhere';
          }),
        ],
        /preds.json: .* it scores predictions \/elsewhere/,
      ],
      [
        [
          g0,
          g1,
          variant('settings.json', (c) => {
            c.settings.flip = true;
          }),
        ],
        /settings.json: .* evaluated with scales 1, flip on/,
      ],
      [
        [
          g0,
          g1,
          variant('padded.json', (c) => {
            c.settings.padToStride = true;
          }),
        ],
        /padded.json: .* evaluated with .*pad to stride on, not .*pad to stride off/,
      ],
      [
        [
          g0,
          g1,
          // A part of a seg version before --pad-to-stride: it was padded.
          variant('older.json', (c) => {
            delete (c.settings as Partial<EvalCounts['settings']>).padToStride;
          }),
        ],
        /older.json: .* evaluated with .*pad to stride on/,
      ],
      [
        [
          g0,
          g1,
          variant('list.json', (c) => {
            c.splitIdsSha256 = 'b'.repeat(64);
          }),
        ],
        /list.json: .* its split list .* is not the one of the other parts/,
      ],
      [
        [
          g0,
          g1,
          variant('count.json', (c) => {
            c.shard = { index: 2, count: 4 };
            c.images = 2;
          }),
        ],
        /count.json: .* it is shard 2\/4, the others are of 3 shards/,
      ],
      [
        [
          g0,
          g1,
          variant('short.json', (c) => {
            c.images = 1;
          }),
        ],
        /short.json: images: 1 images counted, but shard 2\/3 of 7 ids holds 2/,
      ],
      [
        [
          g0,
          g1,
          variant('size.json', (c) => {
            c.confusion.pop();
          }),
        ],
        /size.json: confusion: expected 3 rows of 3 counts/,
      ],
      [
        [
          g0,
          g1,
          variant('negative.json', (c) => {
            (c.confusion[1] as number[])[2] = -1;
          }),
        ],
        /negative.json: confusion\[1\]\[2\]: got -1, expected an integer >= 0/,
      ],
      [
        [
          g0,
          g1,
          variant('fraction.json', (c) => {
            (c.confusion[0] as number[])[0] = 2.5;
          }),
        ],
        /fraction.json: confusion\[0\]\[0\]: got 2.5/,
      ],
      [
        [
          g0,
          g1,
          variant('huge.json', (c) => {
            (c.confusion[0] as number[])[0] = 2 ** 60;
          }),
        ],
        /huge.json: confusion\[0\]\[0\]: got .*expected an integer >= 0/,
      ],
      [
        [
          g0,
          g1,
          variant('format.json', (c) => {
            (c as { format: string }).format = 'other';
          }),
        ],
        /format.json: format: got "other", expected one of seg-eval-counts/,
      ],
      [[g0, join(dir, 'absent.json'), g2], /absent.json: no such file/],
      [[], /--merge: no parts given/],
    ];
    const truncated = join(dir, 'truncated.json');
    writeFileSync(truncated, readFileSync(g2, 'utf8').slice(0, 50));
    cases.push([[g0, g1, truncated], /truncated.json: not valid JSON/]);
    for (const [files, message] of cases) expect(() => mergeEvalCounts(files), message.source).toThrow(message);
    expect(mergeEvalCounts(good).images).toBe(7);
  });

  it('reads back what it writes', async () => {
    const dir = tempDir('seg-parts-');
    const file = await part(dir, 1, 2);
    const c = readEvalCounts(file);
    expect(c.shard).toEqual({ index: 1, count: 2 });
    expect(c.images).toBe(3);
    expect(c.confusion.flat().reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  });
});
