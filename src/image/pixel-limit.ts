/**
 * The most pixels seg decodes in one image or label: 16383 x 16383, sharp's own limit for
 * images (limitInputPixels), applied to label PNGs too, so that a decompression bomb (a small
 * file that declares a huge image) is refused from its header before anything is inflated.
 * At one byte per label pixel a label inflates to at most about 268 MB.
 */
export const MAX_IMAGE_PIXELS = 16383 * 16383;

/** "declares WxH pixels (N), more than seg reads: M pixels (16383x16383, as for images)". */
export function describePixelLimit(what: string, width: number, height: number): string {
  return (
    `${what} declares ${width}x${height} pixels (${(width * height).toLocaleString('en-US')}), more than seg reads: ` +
    `${MAX_IMAGE_PIXELS.toLocaleString('en-US')} pixels (16383x16383, as for images)`
  );
}
