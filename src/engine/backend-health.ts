/** Whether the active backend still computes: a wasm module that aborted fails every later op. */
import { tf } from './tf.js';
import { activeBackendTraits } from './backend-traits.js';

/**
 * Runs a one-element op and reads it back; false when that throws or gives a wrong value.
 * Only backends whose tensors live on the host (wasm, cpu) are checked this way, with a
 * synchronous read they allow; a GPU backend does not abort like a wasm module and cannot
 * read synchronously.
 */
export function backendStillWorks(): boolean {
  if (!activeBackendTraits().hostTensors) return true;
  try {
    const value = tf.tidy(() => tf.add(tf.scalar(1), tf.scalar(1)).dataSync()[0]);
    return value === 2;
  } catch {
    return false;
  }
}
