/** --checkpoint (and --best) checked before any backend starts, so argument errors come first. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SegError } from '../core/errors.js';
import { readCheckpointConfig, resolveCheckpointDir } from '../checkpoint/checkpoint.js';
import { resolveModelDir, runBestDir } from '../checkpoint/run-layout.js';
import { formatPercent } from '../metrics/metrics-format.js';

export function requireCheckpointPath(path: string): void {
  if (!existsSync(path))
    throw new SegError(
      `--checkpoint ${path}: no such checkpoint directory; pass a run folder or checkpoint folder written by seg train`,
      '--checkpoint',
    );
}

/**
 * The checkpoint folder to use: with `best`, the run's `best/` (from `--save-best`);
 * otherwise `path` itself (a run folder means its last checkpoint).
 */
export function checkpointPathFromFlags(path: string, best: boolean): string {
  requireCheckpointPath(path);
  if (!best) return path;
  const dir = runBestDir(path);
  if (!existsSync(join(dir, 'config.json'))) {
    throw new SegError(
      `--best: ${path} has no best checkpoint (${dir}); pass a run folder trained with --save-best METRIC, or leave --best out for its last checkpoint`,
      '--best',
    );
  }
  return dir;
}

/** "checkpoint: DIR (iteration N, val mIoU X% at its last evaluation)": which weights a command runs. */
export function describeCheckpoint(path: string): string {
  const dir = resolveCheckpointDir(resolveModelDir(path));
  const config = readCheckpointConfig(dir);
  const miou = config.metrics?.['mIoU'];
  const metrics = typeof miou === 'number' ? `, val mIoU ${formatPercent(miou)}% at its evaluation` : '';
  return `checkpoint: ${dir} (iteration ${config.iteration}${metrics})`;
}
