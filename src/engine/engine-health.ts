/** Whether the active backend still computes: a wasm module that aborted fails every later op. */
import { tf } from './tf.js';

/** Runs a one-element op and reads it back; false when that throws or gives a wrong value. */
export function backendStillWorks(): boolean {
  try {
    const value = tf.tidy(() => tf.add(tf.scalar(1), tf.scalar(1)).dataSync()[0]);
    return value === 2;
  } catch {
    return false;
  }
}
