/**
 * Mergeable evaluation: one shard's raw confusion matrix (exact integers) saved as JSON with
 * what it was computed from (checkpoint or predictions folder, split, settings, classes,
 * shard); the parts of all shards sum to the matrix of one unsharded evaluation, so the
 * metrics of the merge are exactly those of the unsharded run. A merge refuses parts that do
 * not belong together, a missing or duplicated shard and a corrupt part, naming the file.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeJsonAtomic } from '../core/durable-files.js';
import { SegError } from '../core/errors.js';
import { arrayOf, boolean, FieldError, integer, nullable, number, object, oneOf, parse, string, withDefault } from '../core/schema.js';
import { PACKAGE_VERSION } from '../core/version.js';
import { describeCheckpoint, sameCheckpoint, type CheckpointIdentity } from '../checkpoint/checkpoint-identity.js';
import { ConfusionMatrix } from '../metrics/confusion-matrix.js';
import { computeMetrics } from '../metrics/segmentation-metrics.js';
import { scoredSplitIds, type Dataset } from '../datasets/dataset.js';
import type { EvaluationResult } from './evaluate.js';
import { formatShard, selectShard, shardRange, type ShardSpec } from './shards.js';
import { CHECKPOINT_IDENTITY, COUNT, SHA256, SHARD_SPEC } from './part-schemas.js';

export const EVAL_COUNTS_FORMAT = 'seg-eval-counts';
export const EVAL_COUNTS_FORMAT_VERSION = 1;

/** Evaluation settings that change the counts; parts merge only when they agree. */
export interface EvalSettings {
  scales: number[];
  flip: boolean;
  /** `--limit`, applied to the split list before it is cut into shards; null for all ids. */
  limit: number | null;
  /** `--pad-to-stride`; parts of seg versions before it lack the key and were padded. */
  padToStride: boolean;
}

export interface EvalCounts {
  format: typeof EVAL_COUNTS_FORMAT;
  formatVersion: number;
  /** The model scored, or null when mask PNGs were scored. */
  checkpoint: CheckpointIdentity | null;
  /** The folder of mask PNGs scored, or null when a model was. */
  predictions: string | null;
  split: string;
  /** Ids in the split list that was cut into shards (after `limit`). */
  splitIds: number;
  /** SHA-256 of that id list (one id per line), so all parts provably cut the same list. */
  splitIdsSha256: string;
  shard: ShardSpec;
  settings: EvalSettings;
  /** Images scored by this shard. */
  images: number;
  classNames: string[];
  /** confusion[truth][prediction]: pixel counts, exact integers. */
  confusion: number[][];
  packageVersion: string;
  savedAt: string;
}

/** What an evaluation was of, for `evalCountsOf`. */
export interface EvalCountsContext {
  checkpoint: CheckpointIdentity | null;
  predictions: string | null;
  split: string;
  /** The whole id list that was cut into shards. */
  splitIds: readonly string[];
  shard: ShardSpec | undefined;
  settings: EvalSettings;
  classNames: readonly string[];
}

/** The ids a (possibly sharded) evaluation scores: the split's list, its first `limit` ids, then shard `shard`'s share. */
export function evalShardIds(
  dataset: Dataset,
  split: string,
  limit: number | undefined,
  shard: ShardSpec | undefined,
): { all: string[]; mine: string[] } {
  const all = scoredSplitIds(dataset, split, limit);
  return { all, mine: selectShard(all, shard) };
}

export function idListSha256(ids: readonly string[]): string {
  return createHash('sha256')
    .update(ids.map((id) => `${id}\n`).join(''), 'utf8')
    .digest('hex');
}

/** The counts file content for one evaluation result. */
export function evalCountsOf(result: EvaluationResult, context: EvalCountsContext): EvalCounts {
  const k = result.confusion.numClasses;
  const counts = result.confusion.counts;
  const confusion: number[][] = [];
  for (let t = 0; t < k; t++) confusion.push(Array.from(counts.subarray(t * k, (t + 1) * k)));
  return {
    format: EVAL_COUNTS_FORMAT,
    formatVersion: EVAL_COUNTS_FORMAT_VERSION,
    checkpoint: context.checkpoint,
    predictions: context.predictions,
    split: context.split,
    splitIds: context.splitIds.length,
    splitIdsSha256: idListSha256(context.splitIds),
    shard: context.shard ?? { index: 0, count: 1 },
    settings: context.settings,
    images: result.images,
    classNames: [...context.classNames],
    confusion,
    packageVersion: PACKAGE_VERSION,
    savedAt: new Date().toISOString(),
  };
}

/** Write a counts file atomically (its folder is created). */
export function writeEvalCounts(file: string, counts: EvalCounts): void {
  mkdirSync(dirname(file), { recursive: true });
  writeJsonAtomic(file, counts);
}

const SETTINGS = object<EvalSettings>({
  scales: arrayOf(number()),
  flip: boolean(),
  limit: nullable(COUNT),
  // Parts of seg versions before --pad-to-stride lack the key and were padded.
  padToStride: withDefault(boolean(), true),
});

/** The schema of a counts file, with the checks across fields (square matrix, one source, a complete shard). */
const EVAL_COUNTS = object<EvalCounts>(
  {
    format: oneOf([EVAL_COUNTS_FORMAT]),
    formatVersion: integer({ min: 1, max: EVAL_COUNTS_FORMAT_VERSION }),
    checkpoint: nullable(CHECKPOINT_IDENTITY),
    predictions: nullable(string()),
    split: string({ nonEmpty: true }),
    splitIds: COUNT,
    splitIdsSha256: SHA256,
    shard: SHARD_SPEC,
    settings: SETTINGS,
    images: COUNT,
    classNames: arrayOf(string()),
    confusion: arrayOf(arrayOf(COUNT)),
    packageVersion: withDefault(string(), 'unknown'),
    savedAt: withDefault(string(), ''),
  },
  (c) => {
    const k = c.classNames.length;
    if (k < 1 || k > 255) throw new FieldError('classNames', `got ${k} names, expected 1..255`);
    if (c.confusion.length !== k || !c.confusion.every((row) => row.length === k)) {
      throw new FieldError('confusion', `expected ${k} rows of ${k} counts (one per class)`);
    }
    if ((c.checkpoint === null) === (c.predictions === null)) {
      throw new FieldError('checkpoint', 'exactly one of `checkpoint` and `predictions` must be set');
    }
    const { start, end } = shardRange(c.splitIds, c.shard);
    if (c.images !== end - start) {
      throw new FieldError(
        'images',
        `${c.images} images counted, but shard ${formatShard(c.shard)} of ${c.splitIds} ids holds ${end - start}; the part is incomplete`,
      );
    }
  },
);

/** Read and check one counts file; every defect is a SegError naming the file. */
export function readEvalCounts(file: string): EvalCounts {
  const bad = (what: string): SegError =>
    new SegError(`${file}: ${what}; is it a file written by seg eval --save-counts? (rerun that shard)`, file);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    throw new SegError(
      code === 'ENOENT' ? `${file}: no such file` : `${file}: cannot read (${err instanceof Error ? err.message : String(err)})`,
      file,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw bad(`not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  try {
    return parse(EVAL_COUNTS, value);
  } catch (err) {
    if (err instanceof FieldError) throw bad(`${err.field}: ${err.problem}`);
    throw err;
  }
}

export interface MergedEvaluation extends EvaluationResult {
  split: string;
  /** The parts in shard order. */
  parts: { file: string; counts: EvalCounts }[];
}

function sourceOf(c: EvalCounts): string {
  return c.checkpoint !== null ? `checkpoint ${describeCheckpoint(c.checkpoint)}` : `predictions ${c.predictions ?? ''}`;
}

function describeSettings(s: EvalSettings): string {
  return `scales ${s.scales.join(',')}, flip ${s.flip ? 'on' : 'off'}, limit ${s.limit ?? 'none'}, pad to stride ${s.padToStride ? 'on' : 'off'}`;
}

/** Why part `b` cannot be merged with part `a`, or undefined when they belong together. */
function mismatch(a: EvalCounts, b: EvalCounts): string | undefined {
  if (a.classNames.length !== b.classNames.length || a.classNames.some((n, i) => n !== b.classNames[i])) {
    return `its classes [${b.classNames.join(', ')}] differ from [${a.classNames.join(', ')}]`;
  }
  const sameSource =
    a.checkpoint !== null && b.checkpoint !== null
      ? sameCheckpoint(a.checkpoint, b.checkpoint)
      : a.checkpoint === null && b.checkpoint === null && a.predictions === b.predictions;
  if (!sameSource) return `it scores ${sourceOf(b)}, not ${sourceOf(a)}`;
  if (a.split !== b.split) return `it is of split '${b.split}', not '${a.split}'`;
  if (a.splitIds !== b.splitIds || a.splitIdsSha256 !== b.splitIdsSha256) {
    return `its split list (${b.splitIds} ids) is not the one of the other parts (${a.splitIds} ids); the dataset or --limit changed between shards`;
  }
  if (describeSettings(a.settings) !== describeSettings(b.settings))
    return `it was evaluated with ${describeSettings(b.settings)}, not ${describeSettings(a.settings)}`;
  if (a.shard.count !== b.shard.count) return `it is shard ${formatShard(b.shard)}, the others are of ${a.shard.count} shards`;
  return undefined;
}

/**
 * Merge the counts files of all shards of one evaluation into the result one unsharded
 * evaluation gives: same confusion matrix, image count and metrics.
 */
export function mergeEvalCounts(files: readonly string[]): MergedEvaluation {
  if (files.length === 0) throw new SegError('--merge: no parts given; pass the files written by seg eval --save-counts', '--merge');
  const parts = files.map((file) => ({ file, counts: readEvalCounts(file) }));
  const first = parts[0] as { file: string; counts: EvalCounts };
  for (const part of parts.slice(1)) {
    const why = mismatch(first.counts, part.counts);
    if (why !== undefined) throw new SegError(`${part.file}: cannot be merged with ${first.file}: ${why}`, part.file);
  }
  const count = first.counts.shard.count;
  const byIndex = new Map<number, string>();
  for (const { file, counts } of parts) {
    const other = byIndex.get(counts.shard.index);
    if (other !== undefined) {
      throw new SegError(`${file}: shard ${formatShard(counts.shard)} is given twice (also ${other}); pass each shard's part once`, file);
    }
    byIndex.set(counts.shard.index, file);
  }
  const missing: number[] = [];
  for (let i = 0; i < count; i++) if (!byIndex.has(i)) missing.push(i);
  if (missing.length > 0) {
    const shown = missing.slice(0, 10).map((i) => `${i}/${count}`);
    throw new SegError(
      `--merge: ${missing.length} of ${count} shards missing (${shown.join(', ')}${missing.length > 10 ? ', ...' : ''}); ` +
        `run them with seg eval --shard i/${count} --save-counts and merge all ${count} parts`,
      '--merge',
    );
  }
  parts.sort((a, b) => a.counts.shard.index - b.counts.shard.index);
  const k = first.counts.classNames.length;
  const sum = new Float64Array(k * k);
  let images = 0;
  for (const { counts } of parts) {
    for (const [t, row] of counts.confusion.entries()) {
      for (const [p, c] of row.entries()) sum[t * k + p] += c;
    }
    images += counts.images;
  }
  if (!sum.every((c) => Number.isSafeInteger(c)))
    throw new SegError('--merge: the summed counts exceed 2^53 and would lose precision', '--merge');
  const confusion = ConfusionMatrix.fromCounts(k, sum);
  return { metrics: computeMetrics(confusion, first.counts.classNames), images, confusion, skipped: [], split: first.counts.split, parts };
}
