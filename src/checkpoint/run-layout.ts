/**
 * Where a training run keeps its checkpoint: `<run>/checkpoint/`, next to the run's log
 * (`trace.jsonl`). A sub-folder because checkpoint saves swap whole directories atomically
 * (the previous one survives as `checkpoint.previous` until the swap completes). With
 * `--save-best`, `<run>/best/` holds the weights of the best evaluation so far.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { checkpointExists } from './checkpoint.js';

export const RUN_CHECKPOINT_DIR = 'checkpoint';
/** The checkpoint of the run's best evaluation (`--save-best`), beside `checkpoint/`. */
export const RUN_BEST_DIR = 'best';

export function runCheckpointDir(run: string): string {
  return join(run, RUN_CHECKPOINT_DIR);
}

export function runBestDir(run: string): string {
  return join(run, RUN_BEST_DIR);
}

/** The checkpoint directory for a path that is a run folder or a checkpoint itself. */
export function resolveModelDir(path: string): string {
  if (existsSync(join(path, 'config.json'))) return path;
  const inner = runCheckpointDir(path);
  return checkpointExists(inner) ? inner : path;
}

export function runCheckpointExists(run: string): boolean {
  return checkpointExists(runCheckpointDir(run));
}
