/** PNG container level: signature, chunks, CRCs. Knows nothing about pixels. */
import { SegError } from '../core/errors.js';
import { crc32 } from './crc32.js';

export const PNG_SIGNATURE = Uint8Array.of(137, 80, 78, 71, 13, 10, 26, 10);

export interface PngChunk {
  type: string;
  data: Uint8Array;
}

function typeName(bytes: Uint8Array, at: number): string {
  return String.fromCharCode(bytes[at] ?? 0, bytes[at + 1] ?? 0, bytes[at + 2] ?? 0, bytes[at + 3] ?? 0);
}

/**
 * Split a PNG file into its chunks, up to and including IEND; verifies the signature and
 * every chunk's CRC. `file` names the file in error messages.
 */
export function readPngChunks(bytes: Uint8Array, file: string): PngChunk[] {
  if (bytes.length < 8 || PNG_SIGNATURE.some((b, i) => bytes[i] !== b)) {
    throw new SegError(`${file}: not a PNG file (bad signature); label files must be PNGs`, file);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const chunks: PngChunk[] = [];
  let at = 8;
  for (;;) {
    if (at + 8 > bytes.length) {
      throw new SegError(`${file}: truncated PNG (the file ends before its IEND chunk); re-create or re-download it`, file);
    }
    const length = view.getUint32(at);
    const type = typeName(bytes, at + 4);
    if (at + 12 + length > bytes.length) {
      throw new SegError(`${file}: truncated PNG (chunk ${type} runs past the end of the file); re-create or re-download it`, file);
    }
    const typeAndData = bytes.subarray(at + 4, at + 8 + length);
    const stored = view.getUint32(at + 8 + length);
    if (crc32(typeAndData) !== stored) {
      throw new SegError(`${file}: corrupt PNG (CRC mismatch in chunk ${type}); re-create or re-download it`, file);
    }
    chunks.push({ type, data: bytes.subarray(at + 8, at + 8 + length) });
    at += 12 + length;
    if (type === 'IEND') return chunks;
  }
}

/** One chunk as bytes: length, type, data, CRC. */
export function encodePngChunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}
