/** `--pretrained NAME` and `--checkpoint NAME`: names resolved to cached files (downloaded once, with a progress bar). */
import { byteProgress } from '../core/byte-progress.js';
import { resolveCheckpointSource, resolvePretrainedSource, type WeightsFetchOptions } from '../checkpoint/named-weights.js';
import { requireCheckpointPath } from './checkpoint-path.js';

/** Fetch options that log to stderr and draw the download's progress there. */
export function cliFetchOptions(extra: Pick<WeightsFetchOptions, 'mirror'> = {}): WeightsFetchOptions & { finish: () => void } {
  const bar = byteProgress('download');
  return {
    ...extra,
    log: (line) => process.stderr.write(`${line}\n`),
    onProgress: (done, total) => bar.update(done, total),
    finish: () => bar.finish(),
  };
}

/** A --checkpoint value as a checkpoint folder: a weights name is downloaded and converted once; a path must exist. */
export async function checkpointFromFlag(value: string): Promise<string> {
  const options = cliFetchOptions();
  try {
    const dir = await resolveCheckpointSource(value, options);
    requireCheckpointPath(dir);
    return dir;
  } finally {
    options.finish();
  }
}

/** A --pretrained value as a weights file: a weights name is downloaded once. */
export async function pretrainedFromFlag(value: string): Promise<string> {
  const options = cliFetchOptions();
  try {
    return await resolvePretrainedSource(value, options);
  } finally {
    options.finish();
  }
}
