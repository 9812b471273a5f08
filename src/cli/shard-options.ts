/** `--shard i/n` and `--shards n` for commands that job arrays run (eval, predict). */
import type { Command } from 'commander';
import { JOB_INDEX_ENV, resolveShard, SHARD_ENV, type ShardSpec } from '../inference/shards.js';
import { parseIntFlag } from './options.js';

export interface ShardFlags {
  shard?: string;
  shards?: number;
}

export function addShardOptions(cmd: Command): Command {
  return cmd
    .option('--shard <i/n>', `only share i (0-based) of n contiguous shares of the inputs (default: $${SHARD_ENV})`)
    .option('--shards <n>', `n shares, this one is $${JOB_INDEX_ENV} (Kubernetes indexed Jobs)`, parseIntFlag('--shards', 1));
}

/** The shard from the flags, else the environment; undefined for the whole list. */
export function shardFromFlags(flags: ShardFlags): ShardSpec | undefined {
  return resolveShard({ shard: flags.shard, shards: flags.shards, env: process.env });
}
