/**
 * A procedural VOC-layout dataset: objects of a few classes (each with its own shape, hue
 * and texture) on textured, weakly saturated backgrounds, with VOC's void band along
 * object borders. Deterministic by seed; fast enough for tests and the demo.
 */
import { Rng } from '../core/random.js';
import { hsvToRgb, clampByte, paintBackground, type Rgb } from './textures.js';
import { addVoidBorder } from './void-border.js';
import { checkCount, prepareVocOutput, writeMadeDataset, type MadeDataset } from './voc-writer.js';
import type { LabelImage, RgbImage } from '../image/types.js';

export const SYNTH_CLASSES: readonly string[] = ['background', 'disc', 'square', 'triangle', 'ring', 'cross'];

export interface SynthDatasetOptions {
  out: string;
  /** Training images (default 200). */
  train?: number;
  /** Validation images (default 50). */
  val?: number;
  /** Square image side (default 96); `width`/`height` override it. */
  size?: number;
  width?: number;
  height?: number;
  seed?: number;
  /** Most objects per image (default 3; at least one is always drawn). */
  maxObjects?: number;
  /** Void band radius in pixels (default 1: a band about 2 px wide). */
  voidRadius?: number;
  overwrite?: boolean;
  onProgress?: (done: number, total: number) => void;
}

export type { MadeDataset } from './voc-writer.js';

type Texture = (x: number, y: number) => number;

interface ClassStyle {
  hue: number;
  inside: (u: number, v: number) => boolean;
  texture: (rng: Rng) => Texture;
}

const SQRT3 = Math.sqrt(3);

/** Shapes in unit coordinates (object radius 1), rotated by the caller. */
const STYLES: readonly ClassStyle[] = [
  // disc: red, fine speckle
  { hue: 0, inside: (u, v) => u * u + v * v <= 1, texture: () => () => 0 },
  // square: blue, checker
  {
    hue: 220,
    inside: (u, v) => Math.abs(u) <= 0.8 && Math.abs(v) <= 0.8,
    texture: (rng) => {
      const p = rng.uniform(3, 5);
      return (x, y) => ((Math.floor(x / p) + Math.floor(y / p)) % 2 === 0 ? 0.25 : -0.25);
    },
  },
  // triangle: green, stripes
  {
    hue: 120,
    inside: (u, v) => v >= -0.5 && SQRT3 * u - v <= 1 && -SQRT3 * u - v <= 1,
    texture: (rng) => {
      const p = rng.uniform(3, 6);
      return (_x, y) => 0.25 * Math.sin((2 * Math.PI * y) / p);
    },
  },
  // ring: orange-yellow, smooth
  {
    hue: 45,
    inside: (u, v) => {
      const d = u * u + v * v;
      return d <= 1 && d >= 0.3;
    },
    texture: () => () => 0,
  },
  // cross: magenta, dots
  {
    hue: 295,
    inside: (u, v) => (Math.abs(u) <= 1 && Math.abs(v) <= 0.32) || (Math.abs(v) <= 1 && Math.abs(u) <= 0.32),
    texture: (rng) => {
      const p = rng.uniform(4, 6);
      return (x, y) => {
        const dx = (x % p) - p / 2;
        const dy = (y % p) - p / 2;
        return dx * dx + dy * dy < (p * p) / 10 ? -0.3 : 0.1;
      };
    },
  },
];

function drawObject(image: Uint8Array, label: Uint8Array, width: number, height: number, cls: number, rng: Rng): void {
  const style = STYLES[cls - 1] as ClassStyle;
  const side = Math.min(width, height);
  const radius = rng.uniform(0.12, 0.26) * side;
  const cx = rng.uniform(radius * 0.5, width - radius * 0.5);
  const cy = rng.uniform(radius * 0.5, height - radius * 0.5);
  const angle = rng.uniform(0, 2 * Math.PI);
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  const colour: Rgb = hsvToRgb(style.hue + rng.uniform(-12, 12), rng.uniform(0.6, 0.95), rng.uniform(0.6, 0.95));
  const texture = style.texture(rng);
  const noise = rng.uniform(3, 10);
  const x0 = Math.max(0, Math.floor(cx - radius - 1));
  const x1 = Math.min(width - 1, Math.ceil(cx + radius + 1));
  const y0 = Math.max(0, Math.floor(cy - radius - 1));
  const y1 = Math.min(height - 1, Math.ceil(cy + radius + 1));
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      const dx = (x + 0.5 - cx) / radius;
      const dy = (y + 0.5 - cy) / radius;
      const u = dx * cos + dy * sin;
      const v = -dx * sin + dy * cos;
      if (!style.inside(u, v)) continue;
      const shade = 1 + texture(x, y);
      const n = rng.normal() * noise;
      const i = y * width + x;
      image[i * 3] = clampByte(colour[0] * shade + n);
      image[i * 3 + 1] = clampByte(colour[1] * shade + n);
      image[i * 3 + 2] = clampByte(colour[2] * shade + n);
      label[i] = cls;
    }
  }
}

/** Draw one synthetic scene (deterministic given `rng`). */
export function drawSynthScene(
  width: number,
  height: number,
  rng: Rng,
  maxObjects = 3,
  voidRadius = 1,
): { image: RgbImage; label: LabelImage } {
  const image = paintBackground(width, height, rng);
  const raw = new Uint8Array(width * height);
  const count = 1 + rng.int(Math.max(1, maxObjects));
  for (let k = 0; k < count; k++) drawObject(image, raw, width, height, 1 + rng.int(STYLES.length), rng);
  return { image: { width, height, data: image }, label: { width, height, data: addVoidBorder(raw, width, height, voidRadius) } };
}

/** Make the synthetic dataset (train, val and trainval lists, classes.txt, JPEG images, palette labels). */
export async function makeSynthDataset(options: SynthDatasetOptions): Promise<MadeDataset> {
  const train = checkCount('--train', options.train ?? 200, 0);
  const val = checkCount('--val', options.val ?? 50, 0);
  const size = checkCount('--size', options.size ?? 96, 8);
  const width = checkCount('--width', options.width ?? size, 8);
  const height = checkCount('--height', options.height ?? size, 8);
  const seed = options.seed ?? 0;
  const root = prepareVocOutput(options.out, options.overwrite);
  return writeMadeDataset(
    root,
    { train, val },
    SYNTH_CLASSES,
    // One generator per image, named by its id: the result does not depend on write order.
    (_split, id) => drawSynthScene(width, height, new Rng(seed, `synth/${id}`), options.maxObjects ?? 3, options.voidRadius ?? 1),
    options.onProgress,
  );
}
