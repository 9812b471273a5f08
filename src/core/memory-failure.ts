/** Recognising an engine that ran out of memory (a wasm abort or a failed allocation). */

const MEMORY_FAILURE =
  /Aborted\(|memory access out of bounds|out of memory|Cannot enlarge memory|Array buffer allocation failed|Invalid typed array length/i;

/** True when `err` is the engine failing for lack of memory rather than a bug. */
export function isMemoryFailure(err: unknown): boolean {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return MEMORY_FAILURE.test(text);
}
