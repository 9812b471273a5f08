/**
 * Cleanup that never hides the error it follows: after a wasm abort, disposing tensors
 * throws again, and a throw from a `finally` block would replace the original error.
 */

/** Run `cleanup`, swallowing what it throws (use while another error is propagating). */
export function cleanupQuietly(cleanup: () => void): void {
  try {
    cleanup();
  } catch {
    // The error being propagated is the one that explains what happened.
  }
}

/**
 * `await work()`, then `cleanup()`. If work throws, cleanup errors are swallowed and work's
 * error propagates; if work succeeds, a cleanup error propagates.
 */
export async function withCleanup<T>(work: () => Promise<T>, cleanup: () => void | Promise<void>): Promise<T> {
  let result: T;
  try {
    result = await work();
  } catch (err) {
    try {
      await cleanup();
    } catch {
      // The error being propagated is the one that explains what happened.
    }
    throw err;
  }
  await cleanup();
  return result;
}
