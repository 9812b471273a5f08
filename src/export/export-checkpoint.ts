/** Export a checkpoint (run folder or checkpoint folder) to an .onnx file, written atomically. */
import { mkdirSync } from 'node:fs';
import { writeFileAtomic } from '../core/durable-files.js';
import { dirname, resolve } from 'node:path';
import { loadTrainedModel } from '../checkpoint/load-model.js';
import { exportOnnx } from './onnx-export.js';
import type { HeadOutput } from './onnx-metadata.js';

export interface ExportCheckpointOptions {
  headOutput?: HeadOutput;
  fixedSize?: [number, number];
  padToStride?: boolean;
}

export interface ExportCheckpointResult {
  file: string;
  bytes: number;
  /** The checkpoint folder actually read. */
  checkpoint: string;
}

export async function exportCheckpoint(
  checkpoint: string,
  out: string,
  options: ExportCheckpointOptions = {},
): Promise<ExportCheckpointResult> {
  const trained = loadTrainedModel(checkpoint);
  let bytes: Uint8Array;
  try {
    bytes = await exportOnnx(trained.model, {
      headSpec: trained.head.spec,
      classNames: trained.config.classNames,
      normalization: trained.normalization,
      ...(options.headOutput !== undefined ? { headOutput: options.headOutput } : {}),
      ...(options.fixedSize !== undefined ? { fixedSize: options.fixedSize } : {}),
      ...(options.padToStride !== undefined ? { padToStride: options.padToStride } : {}),
    });
  } finally {
    trained.model.dispose();
  }
  const file = resolve(out);
  mkdirSync(dirname(file), { recursive: true });
  writeFileAtomic(file, bytes);
  return { file, bytes: bytes.length, checkpoint: trained.dir };
}
