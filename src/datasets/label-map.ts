/**
 * Label mappings: a 256-entry lookup table applied to every label value as it is read, so a
 * dataset stored in its own ids trains and scores in class indices (255 = void).
 */
import { SegError } from '../core/errors.js';
import { VOID_LABEL } from '../image/types.js';
import type { Dataset } from './dataset.js';

/** The identity table: every value maps to itself. */
export function identityLabelMap(): Uint8Array {
  return Uint8Array.from({ length: 256 }, (_, v) => v);
}

/**
 * A table from (stored value -> class index) pairs; every value not named maps to `fill`
 * (void by default), e.g. Cityscapes' labelId -> trainId with the ignored ids void.
 */
export function labelLookup(pairs: Iterable<readonly [number, number]>, fill: number = VOID_LABEL): Uint8Array {
  checkLabelValue(fill, 'fill');
  const map = new Uint8Array(256).fill(fill);
  for (const [from, to] of pairs) {
    checkLabelValue(from, 'stored value');
    checkLabelValue(to, `class of value ${from}`);
    map[from] = to;
  }
  return map;
}

/** ADE20K's reduce-zero-label (mmsegmentation's `reduce_zero_label`): 0 -> 255 (void), k -> k-1, 255 stays void. */
export function reduceZeroLabelMap(): Uint8Array {
  const map = Uint8Array.from({ length: 256 }, (_, v) => v - 1);
  map[0] = VOID_LABEL;
  map[VOID_LABEL] = VOID_LABEL;
  return map;
}

/** `label` mapped through `map` (a new array); `label` itself when there is no map. */
export function applyLabelMap(label: Uint8Array, map: Uint8Array | undefined): Uint8Array {
  if (map === undefined) return label;
  if (map.length !== 256) throw new SegError(`label map has ${map.length} entries; expected 256 (one per stored value)`);
  const out = new Uint8Array(label.length);
  for (let i = 0; i < label.length; i++) out[i] = map[label[i] as number] as number;
  return out;
}

/** `dataset` with `map` applied to its labels as read (after any map it already had). */
export function withLabelMap(dataset: Dataset, map: Uint8Array): Dataset {
  if (map.length !== 256) throw new SegError(`label map has ${map.length} entries; expected 256 (one per stored value)`);
  const combined = dataset.labelMap === undefined ? Uint8Array.from(map) : applyLabelMap(dataset.labelMap, map);
  return { ...dataset, labelMap: combined };
}

/** `dataset` with its own palette (256 x 3 RGB bytes, index 255 = void). */
export function withPalette(dataset: Dataset, palette: Uint8Array): Dataset {
  if (palette.length !== 256 * 3) throw new SegError(`palette has ${palette.length} bytes; expected 768 (RGB for 256 indices)`);
  return { ...dataset, palette: Uint8Array.from(palette) };
}

function checkLabelValue(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > 255) throw new SegError(`label map: ${what} ${v} is not a label value 0..255`);
}
