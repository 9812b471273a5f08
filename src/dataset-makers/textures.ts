/** Procedural colour and texture helpers for the dataset makers (all randomness from the caller's Rng). */
import type { Rng } from '../core/random.js';

export type Rgb = [number, number, number];

/** HSV (h in degrees, s and v in 0..1) to 0..255 RGB. */
export function hsvToRgb(h: number, s: number, v: number): Rgb {
  const hh = (((h % 360) + 360) % 360) / 60;
  const c = v * s;
  const x = c * (1 - Math.abs((hh % 2) - 1));
  const m = v - c;
  const [r, g, b] = hh < 1 ? [c, x, 0] : hh < 2 ? [x, c, 0] : hh < 3 ? [0, c, x] : hh < 4 ? [0, x, c] : hh < 5 ? [x, 0, c] : [c, 0, x];
  return [Math.round((r + m) * 255), Math.round((g + m) * 255), Math.round((b + m) * 255)];
}

export function clampByte(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
}

/**
 * A textured, weakly saturated background: a two-colour gradient, plus one of smooth
 * blotches, low-contrast stripes or a coarse checker, plus per-pixel noise. HxWx3 bytes.
 */
export function paintBackground(width: number, height: number, rng: Rng, saturation: [number, number] = [0.05, 0.3]): Uint8Array {
  const image = new Uint8Array(width * height * 3);
  const hue = rng.uniform(0, 360);
  const a = hsvToRgb(hue, rng.uniform(saturation[0], saturation[1]), rng.uniform(0.3, 0.85));
  const b = hsvToRgb(hue + rng.uniform(-60, 60), rng.uniform(saturation[0], saturation[1]), rng.uniform(0.3, 0.85));
  const angle = rng.uniform(0, Math.PI);
  const gx = Math.cos(angle);
  const gy = Math.sin(angle);
  const pattern = rng.int(3);
  const period = rng.uniform(6, 20);
  const contrast = rng.uniform(8, 30);
  const phases = [rng.uniform(0, 6.3), rng.uniform(0, 6.3), rng.uniform(0, 6.3)];
  const freqs = [rng.uniform(0.02, 0.08), rng.uniform(0.02, 0.08), rng.uniform(0.05, 0.15)];
  const noise = rng.uniform(3, 12);
  const span = Math.abs(gx) * width + Math.abs(gy) * height;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const t = Math.min(1, Math.max(0, ((x - (gx < 0 ? width : 0)) * gx + (y - (gy < 0 ? height : 0)) * gy) / span));
      let tex: number;
      if (pattern === 0) {
        tex =
          Math.sin(x * (freqs[0] as number) + (phases[0] as number)) * Math.cos(y * (freqs[1] as number) + (phases[1] as number)) +
          0.5 * Math.sin((x + y) * (freqs[2] as number) + (phases[2] as number));
      } else if (pattern === 1) {
        tex = Math.sin(((x * gy - y * gx) * 2 * Math.PI) / period);
      } else {
        tex = (Math.floor(x / period) + Math.floor(y / period)) % 2 === 0 ? 0.5 : -0.5;
      }
      const shade = tex * contrast + rng.normal() * noise;
      const i = (y * width + x) * 3;
      image[i] = clampByte(a[0] * (1 - t) + b[0] * t + shade);
      image[i + 1] = clampByte(a[1] * (1 - t) + b[1] * t + shade);
      image[i + 2] = clampByte(a[2] * (1 - t) + b[2] * t + shade);
    }
  }
  return image;
}
