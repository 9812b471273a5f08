/** The VOC void band: pixels next to a boundary between two labels become 255 (never trained on, never scored). */
import { VOID_LABEL } from '../image/types.js';

/**
 * Mark as void every pixel that has a differently labelled pixel within `radius`
 * (Chebyshev distance) in the original label; both sides of each boundary get the band,
 * so it is about 2 * radius pixels wide. Returns a new label.
 */
export function addVoidBorder(label: Uint8Array, width: number, height: number, radius = 1): Uint8Array {
  const out = Uint8Array.from(label);
  if (radius <= 0) return out;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = label[y * width + x] as number;
      let boundary = false;
      for (let dy = -radius; dy <= radius && !boundary; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= height) continue;
        for (let dx = -radius; dx <= radius; dx++) {
          const xx = x + dx;
          if (xx < 0 || xx >= width) continue;
          if (label[yy * width + xx] !== v) {
            boundary = true;
            break;
          }
        }
      }
      if (boundary) out[y * width + x] = VOID_LABEL;
    }
  }
  return out;
}
