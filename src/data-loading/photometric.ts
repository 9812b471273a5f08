/**
 * mmsegmentation's PhotoMetricDistortion (mmseg/datasets/transforms/transforms.py), on RGB
 * bytes: each step is applied with probability 1/2, in this order:
 *
 *   1. brightness: add a delta uniform in [-32, 32)
 *   2. contrast (when mode = 1): multiply by a factor uniform in [0.5, 1.5)
 *   3. saturation: multiply HSV's S by a factor uniform in [0.5, 1.5)
 *   4. hue: add an integer in [-18, 17] to HSV's H (numpy's randint(-18, 18)), mod 180
 *   5. contrast (when mode = 0)
 *
 * with the mode a fair coin. As in mmseg, each arithmetic step computes in float32, clips to
 * [0, 255] and truncates to a byte (`np.clip(img.astype(np.float32) * alpha + beta, 0,
 * 255).astype(np.uint8)`), and saturation and hue each convert to OpenCV's 8-bit HSV
 * (H in 0..179) and back (mmcv.bgr2hsv / hsv2bgr are cv2.cvtColor). The conversions below
 * are OpenCV 4.6's for 8-bit images on x86-64 with AVX2, checked against cv2 on every RGB
 * colour and every HSV triple (test/data-loading/photometric.test.ts has samples). OpenCV converts HSV
 * to RGB row by row: the first `32 * floor(width / 32)` pixels of a row take its vectorised
 * path, which truncates to bytes; the rest take its scalar path, which rounds (half to even).
 * Every pixel operation is independent of position, so distorting a crop equals cropping
 * the distorted image.
 */
import type { Rng } from '../core/random.js';
import type { Transform } from './transforms.js';

export interface PhotometricOptions {
  brightnessDelta: number;
  contrastRange: readonly [number, number];
  saturationRange: readonly [number, number];
  hueDelta: number;
}

/** mmseg's defaults. */
export const PHOTOMETRIC_DEFAULTS: Readonly<PhotometricOptions> = {
  brightnessDelta: 32,
  contrastRange: [0.5, 1.5],
  saturationRange: [0.5, 1.5],
  hueDelta: 18,
};

/** One sample's draws: null where the step is skipped. */
export interface PhotometricDraws {
  brightness: number | null;
  /** mmseg's `mode == 1`: contrast before saturation and hue; otherwise after them. */
  contrastFirst: boolean;
  contrast: number | null;
  saturation: number | null;
  hue: number | null;
}

const f32 = Math.fround;

/** mmseg's `convert`: float32 `x * alpha + beta`, clipped to [0, 255], truncated to a byte. */
export function convertByte(x: number, alpha: number, beta: number): number {
  const v = f32(f32(x * f32(alpha)) + f32(beta));
  return v <= 0 ? 0 : v >= 255 ? 255 : Math.trunc(v);
}

const HSV_SHIFT = 12;
const SDIV = new Int32Array(256);
const HDIV180 = new Int32Array(256);
for (let i = 1; i < 256; i++) {
  SDIV[i] = Math.round((255 << HSV_SHIFT) / i);
  HDIV180[i] = Math.round((180 << HSV_SHIFT) / (6 * i));
}

/** OpenCV's RGB2HSV_b (hrange 180) for one pixel; writes H, S, V at `out[o..o+2]`. */
function rgbToHsvPixel(r: number, g: number, b: number, out: Uint8Array, o: number): void {
  const v = Math.max(r, g, b);
  const vmin = Math.min(r, g, b);
  const diff = v - vmin;
  const s = (diff * (SDIV[v] as number) + (1 << (HSV_SHIFT - 1))) >> HSV_SHIFT;
  let h = v === r ? g - b : v === g ? b - r + 2 * diff : r - g + 4 * diff;
  h = (h * (HDIV180[diff] as number) + (1 << (HSV_SHIFT - 1))) >> HSV_SHIFT;
  if (h < 0) h += 180;
  out[o] = h;
  out[o + 1] = s;
  out[o + 2] = v;
}

/** RGB bytes (HxWx3) to OpenCV's 8-bit HSV: H in 0..179, S and V in 0..255. */
export function rgbToHsv(rgb: Uint8Array): Uint8Array {
  const out = new Uint8Array(rgb.length);
  for (let i = 0; i < rgb.length; i += 3) rgbToHsvPixel(rgb[i] as number, rgb[i + 1] as number, rgb[i + 2] as number, out, i);
  return out;
}

const HSCALE = f32(6 / 180);
const INV255 = f32(1 / 255);
const ONE_SIXTH = f32(1 / 6);

/** Pixels per vector of OpenCV's AVX2 build (32 bytes per channel). */
const OPENCV_VECTOR_PIXELS = 32;

function truncByte(x: number): number {
  const t = Math.trunc(x);
  return t <= 0 ? 0 : Math.min(t, 255);
}

/** cvRound: to the nearest integer, halves to even. */
function roundByte(x: number): number {
  const r = Math.round(x);
  const even = r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
  return even <= 0 ? 0 : Math.min(even, 255);
}

/** OpenCV's HSV2RGB_b (hrange 180) for one pixel; writes R, G, B at `out[o..o+2]`. */
function hsvToRgbPixel(h8: number, s8: number, v8: number, out: Uint8Array, o: number, toByte: (x: number) => number): void {
  const s = f32(s8 * INV255);
  const v = f32(v8 * INV255);
  const hh = f32(h8 * HSCALE);
  const pre = Math.trunc(hh);
  const h = f32(hh - pre);
  const tab0 = v;
  const tab1 = f32(v * f32(1 - s));
  // OpenCV's build fuses `1 - s * x` into one FMA (one rounding): the product of two float32s
  // is exact in float64, so rounding `1 - s * x` once from float64 gives the same value.
  const tab2 = f32(v * f32(1 - s * h));
  const tab3 = f32(v * f32(1 - s * f32(1 - h)));
  const sector = pre - Math.trunc(f32(pre * ONE_SIXTH)) * 6;
  // Rows of OpenCV's sector table {b, g, r}: {1,3,0}, {1,0,2}, {3,0,1}, {0,2,1}, {0,1,3}, {2,1,0}.
  let r: number;
  let g: number;
  let b: number;
  if (sector < 1) [b, g, r] = [tab1, tab3, tab0];
  else if (sector < 2) [b, g, r] = [tab1, tab0, tab2];
  else if (sector < 3) [b, g, r] = [tab3, tab0, tab1];
  else if (sector < 4) [b, g, r] = [tab0, tab2, tab1];
  else if (sector < 5) [b, g, r] = [tab0, tab1, tab3];
  else [b, g, r] = [tab2, tab1, tab0];
  out[o] = toByte(f32(r * 255));
  out[o + 1] = toByte(f32(g * 255));
  out[o + 2] = toByte(f32(b * 255));
}

/** OpenCV's 8-bit HSV (H in 0..179) of an image `width` pixels wide (default: one row) back to RGB bytes. */
export function hsvToRgb(hsv: Uint8Array, width = hsv.length / 3): Uint8Array {
  const out = new Uint8Array(hsv.length);
  const vectorised = Math.floor(width / OPENCV_VECTOR_PIXELS) * OPENCV_VECTOR_PIXELS;
  for (let p = 0, i = 0; i < hsv.length; p++, i += 3) {
    const toByte = p % width < vectorised ? truncByte : roundByte;
    hsvToRgbPixel(hsv[i] as number, hsv[i + 1] as number, hsv[i + 2] as number, out, i, toByte);
  }
  return out;
}

/** Every byte through `convertByte(x, alpha, beta)` (brightness: alpha 1; contrast: beta 0). */
export function adjustBytes(values: Uint8Array, alpha: number, beta: number): Uint8Array {
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = convertByte(values[i] as number, alpha, beta);
  return out;
}

/** mmseg's saturation step with factor `alpha` on an image `width` pixels wide: HSV, S scaled (convert), back to RGB. */
export function adjustSaturation(rgb: Uint8Array, alpha: number, width = rgb.length / 3): Uint8Array {
  const hsv = rgbToHsv(rgb);
  for (let i = 1; i < hsv.length; i += 3) hsv[i] = convertByte(hsv[i] as number, alpha, 0);
  return hsvToRgb(hsv, width);
}

/** mmseg's hue step with integer `delta` on an image `width` pixels wide: HSV, H shifted modulo 180, back to RGB. */
export function adjustHue(rgb: Uint8Array, delta: number, width = rgb.length / 3): Uint8Array {
  const hsv = rgbToHsv(rgb);
  for (let i = 0; i < hsv.length; i += 3) hsv[i] = ((((hsv[i] as number) + delta) % 180) + 180) % 180;
  return hsvToRgb(hsv, width);
}

/**
 * One sample's random choices. Always the same nine draws whatever is skipped, so later
 * transforms see the same generator state (seg's rule for every transform).
 */
export function drawPhotometric(rng: Rng, o: PhotometricOptions = PHOTOMETRIC_DEFAULTS): PhotometricDraws {
  const brightnessOn = rng.int(2) === 1;
  const brightness = rng.uniform(-o.brightnessDelta, o.brightnessDelta);
  const contrastFirst = rng.int(2) === 1;
  const contrastOn = rng.int(2) === 1;
  const contrast = rng.uniform(o.contrastRange[0], o.contrastRange[1]);
  const saturationOn = rng.int(2) === 1;
  const saturation = rng.uniform(o.saturationRange[0], o.saturationRange[1]);
  const hueOn = rng.int(2) === 1;
  const hue = rng.int(2 * o.hueDelta) - o.hueDelta;
  return {
    brightness: brightnessOn ? brightness : null,
    contrastFirst,
    contrast: contrastOn ? contrast : null,
    saturation: saturationOn ? saturation : null,
    hue: hueOn ? hue : null,
  };
}

/** Apply drawn steps to RGB bytes (`width` pixels wide) in mmseg's order; returns `rgb` itself when every step is skipped. */
export function applyPhotometric(rgb: Uint8Array, d: PhotometricDraws, width = rgb.length / 3): Uint8Array {
  let img = rgb;
  if (d.brightness !== null) img = adjustBytes(img, 1, d.brightness);
  if (d.contrastFirst && d.contrast !== null) img = adjustBytes(img, d.contrast, 0);
  if (d.saturation !== null) img = adjustSaturation(img, d.saturation, width);
  if (d.hue !== null) img = adjustHue(img, d.hue, width);
  if (!d.contrastFirst && d.contrast !== null) img = adjustBytes(img, d.contrast, 0);
  return img;
}

/** The seeded transform: the image distorted, the label untouched. */
export function randomPhotometricDistortion(options: PhotometricOptions = PHOTOMETRIC_DEFAULTS): Transform {
  return (pair, rng) => {
    const image = applyPhotometric(pair.image, drawPhotometric(rng, options), pair.width);
    return image === pair.image ? pair : { ...pair, image };
  };
}
