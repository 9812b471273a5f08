import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/random.js';
import { trainTransforms } from '../../src/data-loading/augmenter.js';
import { meanPixel } from '../../src/data-loading/normalize.js';
import {
  adjustBytes,
  adjustHue,
  adjustSaturation,
  applyPhotometric,
  convertByte,
  drawPhotometric,
  hsvToRgb,
  rgbToHsv,
} from '../../src/data-loading/photometric.js';
import { applyTransforms } from '../../src/data-loading/transforms.js';

/** Made by tools/photometric_cv2_fixture.py with OpenCV 4.6 (cv2.cvtColor), as mmseg computes on BGR images. */
const fixture = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', 'photometric-cv2.json'), 'utf8')) as {
  rgb2hsv: { rgb: string; hsv: string };
  hsv2rgb: { hsv: string; rgb: string };
  image: { width: number; height: number; rgb: string };
  steps: Record<string, string>;
};
const bytes = (b64: string): Uint8Array => new Uint8Array(Buffer.from(b64, 'base64'));

describe('photometric distortion steps, hand-computed pixels', () => {
  it('brightness: float32 x + delta, clipped, truncated', () => {
    // 100 + 12.7 = 112.7 -> 112; 250 + 12.7 = 262.7 -> clipped to 255; 5 + 12.7 = 17.7 -> 17.
    expect([...adjustBytes(Uint8Array.of(100, 250, 5), 1, 12.7)]).toEqual([112, 255, 17]);
    // 100 - 12.7 = 87.3 -> 87 (truncation, not rounding): 200 -> 187, 250 -> 237; 5 - 12.7 < 0 -> 0.
    expect([...adjustBytes(Uint8Array.of(100, 200, 250, 5), 1, -12.7)]).toEqual([87, 187, 237, 0]);
  });

  it('contrast: float32 x * alpha, clipped, truncated', () => {
    // float32(0.55) = 0.550000011920929: 100 -> 55.0000012 -> 55; 200 -> 110; 250 -> 137.500003 -> 137.
    expect([...adjustBytes(Uint8Array.of(100, 200, 250), 0.55, 0)]).toEqual([55, 110, 137]);
    // 1.3: 100 -> 130; 200 -> 260 -> 255.
    expect([...adjustBytes(Uint8Array.of(100, 200), 1.3, 0)]).toEqual([130, 255]);
    expect(convertByte(255, 1.5, 0)).toBe(255);
  });

  it("OpenCV's 8-bit HSV of (200, 100, 50): hue 20 degrees / 2, saturation 0.75 * 255, value 200", () => {
    // s = (150 * round(255 * 4096 / 200) + 2048) >> 12 = (150 * 5222 + 2048) >> 12 = 191
    // h = ((g - b) * round(180 * 4096 / (6 * 150)) + 2048) >> 12 = (50 * 819 + 2048) >> 12 = 10
    expect([...rgbToHsv(Uint8Array.of(200, 100, 50))]).toEqual([10, 191, 200]);
    expect([...rgbToHsv(Uint8Array.of(0, 0, 0))]).toEqual([0, 0, 0]);
    // pure blue: 240 degrees -> 120
    expect([...rgbToHsv(Uint8Array.of(0, 0, 255))]).toEqual([120, 255, 255]);
  });

  // One pixel is below OpenCV's vector width: its scalar path, which rounds (the values below are not near a half).
  it('saturation 0.5 of (200, 100, 50): S 191 -> 95, back to RGB (200, 150, 125)', () => {
    // HSV (10, 95, 200): sector 0 (h * 6/180 = 0.33), s = 95/255, v = 200/255, f = 1/3:
    // r = v -> 200; b = v (1 - s) * 255 = 125.49 -> 125; g = v (1 - s (1 - f)) * 255 = 150.33 -> 150.
    expect([...adjustSaturation(Uint8Array.of(200, 100, 50), 0.5)]).toEqual([200, 150, 125]);
  });

  it('hue +30 of (200, 100, 50): H 10 -> 40 (80 degrees), RGB (150, 200, 50)', () => {
    // HSV (40, 191, 200): sector 1 (40 * 6/180 = 1.33, f = 1/3), s = 191/255, v = 200/255:
    // g = v -> 200; b = v (1 - s) * 255 = 50.2 -> 50; r = v (1 - s f) * 255 = 150.07 -> 150.
    expect([...adjustHue(Uint8Array.of(200, 100, 50), 30)]).toEqual([150, 200, 50]);
    // -18 wraps: 10 - 18 = -8 -> 172 (344 degrees): r = v, g = tab1 = 50, b = v (1 - s f) with f = 1/3... = 90
    expect([...adjustHue(Uint8Array.of(200, 100, 50), -18)]).toEqual([200, 50, 90]);
  });
});

describe('photometric distortion against OpenCV (cv2 4.6)', () => {
  it('RGB -> HSV and HSV -> RGB match cv2.cvtColor on 4000 random values each', () => {
    expect(rgbToHsv(bytes(fixture.rgb2hsv.rgb))).toEqual(bytes(fixture.rgb2hsv.hsv));
    expect(hsvToRgb(bytes(fixture.hsv2rgb.hsv))).toEqual(bytes(fixture.hsv2rgb.rgb));
  });

  it("each of mmseg's steps matches on a random image", () => {
    const image = bytes(fixture.image.rgb);
    const w = fixture.image.width;
    const ours: Record<string, Uint8Array> = {
      'brightness+20.6': adjustBytes(image, 1, 20.6),
      'brightness-31.2': adjustBytes(image, 1, -31.2),
      'contrast0.62': adjustBytes(image, 0.62, 0),
      'contrast1.41': adjustBytes(image, 1.41, 0),
      'saturation0.55': adjustSaturation(image, 0.55, w),
      'saturation1.37': adjustSaturation(image, 1.37, w),
      'hue-18': adjustHue(image, -18, w),
      hue7: adjustHue(image, 7, w),
      hue17: adjustHue(image, 17, w),
    };
    expect(Object.keys(ours).sort()).toEqual(Object.keys(fixture.steps).sort());
    for (const [name, out] of Object.entries(ours)) expect(out, name).toEqual(bytes(fixture.steps[name] as string));
  });
});

describe('drawPhotometric and applyPhotometric', () => {
  it("applies mmseg's order: brightness, contrast (mode 1), saturation, hue, contrast (mode 0)", () => {
    const image = bytes(fixture.image.rgb);
    const draws = { brightness: 10.5, contrast: 1.2, saturation: 0.8, hue: 5 };
    const first = applyPhotometric(image, { ...draws, contrastFirst: true });
    expect(first).toEqual(adjustHue(adjustSaturation(adjustBytes(adjustBytes(image, 1, 10.5), 1.2, 0), 0.8), 5));
    const last = applyPhotometric(image, { ...draws, contrastFirst: false });
    expect(last).toEqual(adjustBytes(adjustHue(adjustSaturation(adjustBytes(image, 1, 10.5), 0.8), 5), 1.2, 0));
    const none = { brightness: null, contrast: null, saturation: null, hue: null, contrastFirst: false };
    expect(applyPhotometric(image, none)).toBe(image);
  });

  it("draws mmseg's ranges with probability 1/2 each, always nine values from the generator", () => {
    const rng = new Rng(7, 'augment');
    const counts = { brightness: 0, contrast: 0, saturation: 0, hue: 0, contrastFirst: 0 };
    const hues = new Set<number>();
    const n = 4000;
    for (let i = 0; i < n; i++) {
      const before = Rng.fromState(rng.state());
      const d = drawPhotometric(rng);
      for (let k = 0; k < 9; k++) before.nextU32();
      expect(rng.state()).toEqual(before.state());
      if (d.brightness !== null) {
        counts.brightness++;
        expect(d.brightness).toBeGreaterThanOrEqual(-32);
        expect(d.brightness).toBeLessThan(32);
      }
      if (d.contrast !== null) {
        counts.contrast++;
        expect(d.contrast).toBeGreaterThanOrEqual(0.5);
        expect(d.contrast).toBeLessThan(1.5);
      }
      if (d.saturation !== null) {
        counts.saturation++;
        expect(d.saturation).toBeGreaterThanOrEqual(0.5);
        expect(d.saturation).toBeLessThan(1.5);
      }
      if (d.hue !== null) {
        counts.hue++;
        hues.add(d.hue);
      }
      if (d.contrastFirst) counts.contrastFirst++;
    }
    // numpy's randint(-18, 18) excludes 18: 36 values, -18..17.
    expect([...hues].sort((a, b) => a - b)).toEqual(Array.from({ length: 36 }, (_, i) => i - 18));
    for (const [k, c] of Object.entries(counts)) expect(Math.abs(c / n - 0.5), k).toBeLessThan(0.03);
  });
});

describe('the training pipeline with photometric distortion', () => {
  const pair = (): { width: number; height: number; image: Uint8Array; label: Uint8Array } => {
    const rng = new Rng(3);
    const width = 20;
    const height = 12;
    return {
      width,
      height,
      image: Uint8Array.from({ length: width * height * 3 }, () => rng.int(256)),
      label: Uint8Array.from({ length: width * height }, () => rng.int(3)),
    };
  };

  it('distorts after the crop and flip and pads last with the mean pixel and void; same seed, same crop', async () => {
    const transforms = trainTransforms({ crop: 32, scales: [1], photometric: true });
    const distortedSomewhere: boolean[] = [];
    for (let seed = 0; seed < 8; seed++) {
      const out = await applyTransforms(transforms, pair(), new Rng(seed, 'augment'));
      const again = await applyTransforms(transforms, pair(), new Rng(seed, 'augment'));
      expect(again).toEqual(out);
      expect([out.width, out.height]).toEqual([32, 32]);
      const mean = meanPixel();
      // The 20x12 image is at the top left; everything right of it and below it is padding.
      for (let y = 0; y < 32; y++) {
        for (let x = 0; x < 32; x++) {
          if (x < 20 && y < 12) continue;
          const i = y * 32 + x;
          expect([out.image[3 * i], out.image[3 * i + 1], out.image[3 * i + 2]]).toEqual(mean);
          expect(out.label[i]).toBe(255);
        }
      }
      // The labels are only cropped and flipped: the same as without distortion.
      const plain = await applyTransforms(
        [...trainTransforms({ crop: 32, scales: [1], photometric: true }).slice(0, 2)],
        pair(),
        new Rng(seed, 'augment'),
      );
      for (let y = 0; y < 12; y++) {
        expect(out.label.subarray(y * 32, y * 32 + 20)).toEqual(plain.label.subarray(y * 20, y * 20 + 20));
      }
      distortedSomewhere.push(out.image.subarray(0, 60).some((v, i) => v !== plain.image[i]));
    }
    expect(distortedSomewhere.some((d) => d)).toBe(true);
  });
});
