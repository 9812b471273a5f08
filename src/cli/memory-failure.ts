/** Engine failures that mean "out of memory", turned into a message that says so. */
import { isMemoryFailure } from '../core/memory-failure.js';
import { backendStillWorks } from '../engine/backend-health.js';
import { backendTraits } from '../engine/backend-traits.js';
import { formatGiB } from '../segmentation/memory-estimate.js';

/**
 * A one-line explanation when `err` is the engine running out of memory (a wasm abort,
 * an out-of-bounds access after a failed allocation), naming the backend's limit; undefined
 * for any other error. On wasm, an abort is often followed by a second error (from tfjs
 * cleaning up after the dead module) that hides the first: a wasm backend that no longer
 * computes also counts as an abort.
 */
export function describeMemoryFailure(err: unknown, backend: string, stillWorks: () => boolean = backendStillWorks): string | undefined {
  const traits = backendTraits(backend);
  if (!isMemoryFailure(err) && !(traits.abortsOnMemoryFailure && !stillWorks())) return undefined;
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  const limit =
    traits.memory.kind === 'linear'
      ? `the ${backend} backend's ${formatGiB(traits.memory.totalBytes)} of linear memory`
      : `the memory of the ${backend} backend`;
  return (
    `out of memory: the work exceeded ${limit} (the engine failed with ${text.split('\n')[0]}). ` +
    'Train with a smaller --batch, --crop or --width or a smaller --backbone; infer large images with --mode slide and a smaller --window; ' +
    'or use a GPU backend (--backend webgpu or tensorflow). See README, Memory limits'
  );
}
