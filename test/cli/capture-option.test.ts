import { describe, expect, it } from 'vitest';
import { SegError } from '../../src/core/errors.js';
import { captureEnabled } from '../../src/cli/options.js';

describe('captureEnabled (--no-capture, SEG_CAPTURE)', () => {
  it('is on by default, off with --no-capture whatever the environment says', () => {
    expect(captureEnabled(undefined, {})).toBe(true);
    expect(captureEnabled(true, {})).toBe(true);
    expect(captureEnabled(false, { SEG_CAPTURE: '1' })).toBe(false);
  });

  it('reads SEG_CAPTURE as 0/1 (and false/true, off/on) and refuses anything else', () => {
    expect(captureEnabled(true, { SEG_CAPTURE: '0' })).toBe(false);
    expect(captureEnabled(true, { SEG_CAPTURE: ' off ' })).toBe(false);
    expect(captureEnabled(true, { SEG_CAPTURE: 'TRUE' })).toBe(true);
    expect(() => captureEnabled(true, { SEG_CAPTURE: 'maybe' })).toThrow(SegError);
    expect(() => captureEnabled(true, { SEG_CAPTURE: 'maybe' })).toThrow(/SEG_CAPTURE: got 'maybe', expected 0 or 1/);
  });
});
