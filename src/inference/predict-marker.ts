/**
 * The mark `seg predict` leaves in every file it writes, so that a later run can tell its own
 * masks and overlays (which it may replace) from anything else (which it never replaces):
 * a PNG `tEXt` chunk `Software` = `seg predict` right after IHDR, and a JPEG comment (COM
 * segment) `seg predict` right after SOI. Both sit in the first bytes of the file, so telling
 * reads a few dozen bytes, and both are ignored by image viewers and decoders.
 */
import { closeSync, lstatSync, openSync, readSync } from 'node:fs';
import { encodePngChunk, PNG_SIGNATURE } from '../image/png-chunks.js';

const TEXT = 'seg predict';
const PNG_TEXT = Buffer.from(`Software\0${TEXT}`, 'latin1');
/** Signature (8) + IHDR chunk (4 length + 4 type + 13 data + 4 CRC). */
const PNG_AFTER_IHDR = 8 + 25;
const PNG_MARK = encodePngChunk('tEXt', PNG_TEXT);
const JPEG_COMMENT = Buffer.from(TEXT, 'latin1');
const JPEG_MARK = Buffer.concat([Buffer.from([0xff, 0xfe, 0, JPEG_COMMENT.length + 2]), JPEG_COMMENT]);

/** A PNG (as encodeLabelPng writes it: IHDR first) with seg's mark after its IHDR chunk. */
export function markMaskPng(png: Uint8Array): Buffer {
  const bytes = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  if (bytes.subarray(12, 16).toString('latin1') !== 'IHDR') throw new Error('markMaskPng: the PNG does not start with IHDR');
  return Buffer.concat([bytes.subarray(0, PNG_AFTER_IHDR), PNG_MARK, bytes.subarray(PNG_AFTER_IHDR)]);
}

/** A JPEG with seg's mark as a comment right after its SOI marker. */
export function markOverlayJpeg(jpeg: Uint8Array): Buffer {
  const bytes = Buffer.from(jpeg.buffer, jpeg.byteOffset, jpeg.byteLength);
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) throw new Error('markOverlayJpeg: not a JPEG (no SOI marker)');
  return Buffer.concat([bytes.subarray(0, 2), JPEG_MARK, bytes.subarray(2)]);
}

function head(path: string, length: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(length);
    const n = readSync(fd, buf, 0, length, 0);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/**
 * Why the existing entry at `path` is not a file `seg predict` wrote (so it must not be
 * replaced), or undefined when it is one (or nothing is there).
 */
export function foreignFileReason(path: string): string | undefined {
  let st: ReturnType<typeof lstatSync>;
  try {
    st = lstatSync(path);
  } catch {
    return undefined;
  }
  if (st.isSymbolicLink()) return 'a symlink';
  if (st.isDirectory()) return 'a folder';
  if (!st.isFile()) return 'not a regular file';
  let bytes: Buffer;
  try {
    bytes = head(path, PNG_AFTER_IHDR + PNG_MARK.length);
  } catch {
    return 'a file seg cannot read';
  }
  const png = PNG_SIGNATURE.every((b, i) => bytes[i] === b) && bytes.subarray(PNG_AFTER_IHDR).equals(PNG_MARK);
  const jpeg = bytes[0] === 0xff && bytes[1] === 0xd8 && bytes.subarray(2, 2 + JPEG_MARK.length).equals(JPEG_MARK);
  return png || jpeg ? undefined : 'no mark of seg predict in it';
}
