/** A --checkpoint path checked before any backend starts (so argument errors come first). */
import { existsSync } from 'node:fs';
import { SegError } from '../core/errors.js';

export function requireCheckpointPath(path: string): void {
  if (!existsSync(path))
    throw new SegError(
      `--checkpoint ${path}: no such checkpoint directory; pass a run folder or checkpoint folder written by seg train`,
      '--checkpoint',
    );
}
