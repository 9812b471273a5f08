/** Engine failures that mean "out of memory", turned into a message that says so. */
import { isMemoryFailure } from '../core/memory-failure.js';
import { WASM_LINEAR_MEMORY_BYTES, formatGiB } from '../segmentation/memory-estimate.js';

/**
 * A one-line explanation when `err` is the engine running out of memory (a wasm abort,
 * an out-of-bounds access after a failed allocation), naming the backend's limit; undefined
 * for any other error.
 */
export function describeMemoryFailure(err: unknown, backend: string): string | undefined {
  if (!isMemoryFailure(err)) return undefined;
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  const limit = backend === 'wasm' ? `the wasm backend's ${formatGiB(WASM_LINEAR_MEMORY_BYTES)} of linear memory` : `the memory of the ${backend} backend`;
  return (
    `out of memory: the work exceeded ${limit} (${text.split('\n')[0]}). ` +
    'Train with a smaller --batch, --crop or --width or a smaller --backbone; infer large images with --mode slide and a smaller --window; ' +
    'or use a GPU backend (--backend tensorflow). See README, Memory limits'
  );
}
