/**
 * Shards for job arrays (Kubernetes indexed Jobs, Slurm arrays, CI matrices): a list is cut
 * into `count` contiguous shares whose sizes differ by at most one (the first `length % count`
 * shares hold one more item). Share `index` (0-based) goes to one job. The shares are
 * disjoint, their union is the list, and the cut depends only on the list's order and length,
 * so every machine computes the same shares.
 */
import { SegError } from '../core/errors.js';

export interface ShardSpec {
  /** 0-based shard number, in 0..count-1. */
  index: number;
  /** Number of shards, >= 1. */
  count: number;
}

/** Where a shard choice can come from, as the user names it in flags and environment. */
export interface ShardSources {
  /** `--shard i/n`. */
  shard?: string | undefined;
  /** `--shards n`, paired with the environment's `JOB_COMPLETION_INDEX`. */
  shards?: number | undefined;
  /** The environment (reads `SEG_SHARD` and `JOB_COMPLETION_INDEX`). */
  env?: Readonly<Record<string, string | undefined>>;
}

export const SHARD_ENV = 'SEG_SHARD';
export const JOB_INDEX_ENV = 'JOB_COMPLETION_INDEX';

/** `'i/n'` as written for shard `spec` (0-based index). */
export function formatShard(spec: ShardSpec): string {
  return `${spec.index}/${spec.count}`;
}

function checkedShard(index: number, count: number, source: string, got: string): ShardSpec {
  if (!Number.isSafeInteger(count) || count < 1) {
    throw new SegError(`${source}: got '${got}', the shard count must be an integer >= 1`, source);
  }
  if (!Number.isSafeInteger(index) || index < 0 || index >= count) {
    throw new SegError(`${source}: got '${got}', the shard index must be in 0..${count - 1} (shards are numbered from 0)`, source);
  }
  return { index, count };
}

/** Parse `i/n` (e.g. `0/4`); `source` (a flag or variable name) is named in errors. */
export function parseShardSpec(text: string, source = '--shard'): ShardSpec {
  const match = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (match === null) {
    throw new SegError(`${source}: got '${text}', expected i/n with shard index i in 0..n-1, e.g. 0/4 for the first of 4 shards`, source);
  }
  return checkedShard(Number(match[1]), Number(match[2]), source, text);
}

/**
 * The shard chosen by `--shard i/n`, else by `--shards n` with `JOB_COMPLETION_INDEX`, else by
 * `SEG_SHARD=i/n`; undefined when none is given (the whole list).
 */
export function resolveShard(sources: ShardSources): ShardSpec | undefined {
  const env = sources.env ?? {};
  if (sources.shard !== undefined && sources.shards !== undefined) {
    throw new SegError(`--shard and --shards: pass one of them (--shard i/n, or --shards n with ${JOB_INDEX_ENV} set)`, '--shard');
  }
  if (sources.shard !== undefined) return parseShardSpec(sources.shard, '--shard');
  if (sources.shards !== undefined) {
    const raw = env[JOB_INDEX_ENV];
    if (raw === undefined || raw.trim() === '') {
      throw new SegError(
        `--shards ${sources.shards}: ${JOB_INDEX_ENV} is not set; it is set by Kubernetes indexed Jobs, elsewhere pass --shard i/n`,
        '--shards',
      );
    }
    if (!/^\s*\d+\s*$/.test(raw))
      throw new SegError(`${JOB_INDEX_ENV}: got '${raw}', expected an integer in 0..${sources.shards - 1}`, JOB_INDEX_ENV);
    return checkedShard(Number(raw), sources.shards, JOB_INDEX_ENV, `${raw.trim()} with --shards ${sources.shards}`);
  }
  const fromEnv = env[SHARD_ENV];
  if (fromEnv !== undefined && fromEnv.trim() !== '') return parseShardSpec(fromEnv, SHARD_ENV);
  return undefined;
}

/** The half-open range [start, end) of share `spec.index` in a list of `length` items. */
export function shardRange(length: number, spec: ShardSpec): { start: number; end: number } {
  if (!Number.isSafeInteger(length) || length < 0) throw new Error(`shardRange: length must be an integer >= 0, got ${length}`);
  checkedShard(spec.index, spec.count, 'shard', formatShard(spec));
  const base = Math.floor(length / spec.count);
  const extra = length % spec.count;
  const start = spec.index * base + Math.min(spec.index, extra);
  return { start, end: start + base + (spec.index < extra ? 1 : 0) };
}

/** The items of share `spec.index`, in list order; the whole list when `spec` is undefined. */
export function selectShard<T>(items: readonly T[], spec: ShardSpec | undefined): T[] {
  if (spec === undefined) return [...items];
  const { start, end } = shardRange(items.length, spec);
  return items.slice(start, end);
}

/** Order by UTF-16 code units: the same on every machine and locale (unlike localeCompare). */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
