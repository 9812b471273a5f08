/** The width multiplier: one rule for every channel count of a model (backbone and decoder). */
import { SegError } from '../core/errors.js';

/** Width multipliers outside this range are refused (a typo, not an experiment). */
export const WIDTH_RANGE = [1 / 64, 4] as const;

export function validateWidth(width: number, flag = '--width'): number {
  if (!Number.isFinite(width) || width < WIDTH_RANGE[0] || width > WIDTH_RANGE[1]) {
    throw new SegError(`${flag}: got ${width}, expected a number in [${WIDTH_RANGE[0]}, ${WIDTH_RANGE[1]}] (1 = full ResNet)`, flag);
  }
  return width;
}

/** A channel count under the width multiplier: round(base * width), at least 1. */
export function scaledChannels(base: number, width: number): number {
  return Math.max(1, Math.round(base * width));
}
