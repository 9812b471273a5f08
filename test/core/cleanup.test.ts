import { describe, expect, it } from 'vitest';
import { cleanupQuietly, withCleanup } from '../../src/core/cleanup.js';
import { isMemoryFailure } from '../../src/core/memory-failure.js';
import { describeMemoryFailure } from '../../src/cli/memory-failure.js';

describe('cleanup after an error', () => {
  it('keeps the original error when cleanup throws too', async () => {
    const original = new Error('RuntimeError: Aborted()');
    await expect(
      withCleanup(
        () => Promise.reject(original),
        () => {
          throw new TypeError("Cannot read properties of undefined (reading 'map')");
        },
      ),
    ).rejects.toBe(original);
    expect(() =>
      cleanupQuietly(() => {
        throw new Error('second');
      }),
    ).not.toThrow();
  });

  it('propagates a cleanup error when the work succeeded, and runs cleanup once', async () => {
    let cleaned = 0;
    expect(
      await withCleanup(
        () => Promise.resolve(3),
        () => {
          cleaned += 1;
        },
      ),
    ).toBe(3);
    expect(cleaned).toBe(1);
    await expect(
      withCleanup(
        () => Promise.resolve(3),
        () => {
          throw new Error('dispose failed');
        },
      ),
    ).rejects.toThrow('dispose failed');
  });
});

/** What the wasm module throws (WebAssembly.RuntimeError has this name). */
function wasmError(message: string): Error {
  const err = new Error(message);
  err.name = 'RuntimeError';
  return err;
}

describe('out-of-memory failures', () => {
  it('recognises wasm aborts and failed allocations, not other errors', () => {
    expect(isMemoryFailure(wasmError('Aborted(). Build with -sASSERTIONS for more info.'))).toBe(true);
    expect(isMemoryFailure(wasmError('memory access out of bounds'))).toBe(true);
    expect(isMemoryFailure(new RangeError('Array buffer allocation failed'))).toBe(true);
    expect(isMemoryFailure(new TypeError("Cannot read properties of undefined (reading 'map')"))).toBe(false);
  });

  it('names the wasm limit instead of an internal error, also when a second error hid the abort', () => {
    const works = (): boolean => true;
    const dead = (): boolean => false;
    const msg = describeMemoryFailure(wasmError('memory access out of bounds'), 'wasm', works);
    expect(msg).toContain("wasm backend's 4.00 GiB of linear memory");
    expect(msg).toContain('memory access out of bounds');
    expect(msg).toMatch(/--batch.*--mode slide/);
    const hidden = new TypeError("Cannot read properties of undefined (reading 'map')");
    expect(describeMemoryFailure(hidden, 'wasm', works)).toBeUndefined();
    expect(describeMemoryFailure(hidden, 'wasm', dead)).toContain('out of memory');
    expect(describeMemoryFailure(hidden, 'cpu', dead)).toBeUndefined();
  });
});
