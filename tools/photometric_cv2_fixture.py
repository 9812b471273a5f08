"""Reference values for seg's photometric distortion, computed with OpenCV (cv2.cvtColor).

Writes test/data-loading/fixtures/photometric-cv2.json:
  - rgb2hsv: random RGB colours and cv2's COLOR_RGB2HSV of them (8-bit, H in 0..179);
  - hsv2rgb: random HSV triples and cv2's COLOR_HSV2RGB, converted as one wide image (the
    vectorised path OpenCV takes for all but the last pixels % 16 of an image);
  - steps: a random 40x12 RGB image through each of mmsegmentation's PhotoMetricDistortion
    steps with fixed parameters, as mmseg computes them on BGR images with mmcv (cv2).

Run with the Python that has cv2 (Debian: apt-get install python3-opencv; /usr/bin/python3):
  /usr/bin/python3 tools/photometric_cv2_fixture.py
"""
import base64
import json
import os

import cv2
import numpy as np

rng = np.random.default_rng(31)


def b64(a):
    return base64.b64encode(np.ascontiguousarray(a, dtype=np.uint8).tobytes()).decode()


def clip_byte(img, alpha=1.0, beta=0.0):
    # mmseg's arithmetic: float32, clipped to [0, 255], truncated to uint8.
    return np.clip(img.astype(np.float32) * alpha + beta, 0, 255).astype(np.uint8)


def bgr_steps(bgr):
    out = {}
    out['brightness+20.6'] = clip_byte(bgr, beta=20.6)
    out['brightness-31.2'] = clip_byte(bgr, beta=-31.2)
    out['contrast0.62'] = clip_byte(bgr, alpha=0.62)
    out['contrast1.41'] = clip_byte(bgr, alpha=1.41)
    for alpha in (0.55, 1.37):
        hsv = cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV)
        hsv[:, :, 1] = clip_byte(hsv[:, :, 1], alpha=alpha)
        out[f'saturation{alpha}'] = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
    for delta in (-18, 7, 17):
        hsv = cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV)
        hsv[:, :, 0] = (hsv[:, :, 0].astype(int) + delta) % 180
        out[f'hue{delta}'] = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
    return out


def main():
    colours = rng.integers(0, 256, size=(4000, 3), dtype=np.uint8)
    hsv_of = cv2.cvtColor(colours.reshape(1, -1, 3), cv2.COLOR_RGB2HSV).reshape(-1, 3)
    hsv_in = np.stack(
        [rng.integers(0, 180, 4000), rng.integers(0, 256, 4000), rng.integers(0, 256, 4000)], axis=1
    ).astype(np.uint8)
    rgb_of = cv2.cvtColor(hsv_in.reshape(1, -1, 3), cv2.COLOR_HSV2RGB).reshape(-1, 3)
    image = rng.integers(0, 256, size=(12, 40, 3), dtype=np.uint8)  # RGB; rows of 40: 32 vectorised pixels + 8 scalar
    steps = {k: b64(v[:, :, ::-1]) for k, v in bgr_steps(image[:, :, ::-1].copy()).items()}
    fixture = {
        'opencv': cv2.__version__,
        'rgb2hsv': {'rgb': b64(colours), 'hsv': b64(hsv_of)},
        'hsv2rgb': {'hsv': b64(hsv_in), 'rgb': b64(rgb_of)},
        'image': {'width': 40, 'height': 12, 'rgb': b64(image)},
        'steps': steps,
    }
    path = os.path.join(os.path.dirname(__file__), '..', 'test', 'data-loading', 'fixtures', 'photometric-cv2.json')
    with open(path, 'w') as f:
        json.dump(fixture, f, indent=2)
        f.write('\n')
    print(f'wrote {path} (OpenCV {cv2.__version__})')


if __name__ == '__main__':
    main()
