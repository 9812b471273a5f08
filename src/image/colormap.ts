/**
 * The PASCAL VOC colormap: entry i is built from the bits of i spread over the high bits of
 * R, G and B (bitget as in the VOC devkit's labelcolormap.m). 0 = black background,
 * 1 = (128,0,0) aeroplane, ..., 255 = (224,224,192) void.
 */
export function vocColormap(): Uint8Array {
  const map = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    let r = 0;
    let g = 0;
    let b = 0;
    let c = i;
    for (let j = 0; j < 8; j++) {
      r |= ((c >> 0) & 1) << (7 - j);
      g |= ((c >> 1) & 1) << (7 - j);
      b |= ((c >> 2) & 1) << (7 - j);
      c >>= 3;
    }
    map[i * 3] = r;
    map[i * 3 + 1] = g;
    map[i * 3 + 2] = b;
  }
  return map;
}
