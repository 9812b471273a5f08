/** The sliding-window and padding flags shared by `seg eval` and `seg predict`. */
import { type Command, Option } from 'commander';
import { SegError } from '../core/errors.js';
import { DEFAULT_WINDOW, INFERENCE_MODES, type InferenceMode } from '../inference/sliding-window.js';
import { totalmem } from 'node:os';
import { HOST_RAM_SHARE, type BackendTraits } from '../engine/backend-traits.js';
import { backendMemoryLimit } from '../segmentation/memory-estimate.js';
import type { InferenceEngine } from '../inference/engines/engine.js';
import type { PredictOptions } from '../inference/inference.js';
import { parseIntFlag } from './options.js';

export interface InferenceFlags {
  mode: string;
  window: number;
  overlap: number;
  padToStride?: boolean;
}

/** A fraction in [0, 1): `1/3`, `0.25`. */
export function parseOverlap(value: string): number {
  const parts = value.split('/');
  const n =
    parts.length === 2 ? Number(parts[0]) / Number(parts[1]) : parts.length === 1 && value.trim() !== '' ? Number(value) : Number.NaN;
  if (!Number.isFinite(n) || n < 0 || n >= 1)
    throw new SegError(`--overlap: got '${value}', expected a fraction in [0, 1) such as 1/3 or 0.25`, '--overlap');
  return n;
}

export function addInferenceOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--mode <mode>', 'whole image, sliding windows, or auto: windows when the whole image would not fit the backend memory')
        .choices([...INFERENCE_MODES])
        .default('auto'),
    )
    .option('--window <px>', 'sliding-window side in pixels', parseIntFlag('--window', 8), DEFAULT_WINDOW)
    .option('--overlap <fraction>', 'overlap of neighbouring windows, a fraction of the window', parseOverlap, 1 / 3)
    .option(
      '--pad-to-stride',
      "pad each image (or window) to a multiple of the output stride and crop the logits back (default: the image as it is, torchvision's logits)",
    );
}

/**
 * The PredictOptions of the flags, with the memory limit of what runs the engine: the tfjs
 * backend's, or the host's RAM for an engine with its own allocator (onnxruntime).
 */
export function inferenceOptionsFromFlags(
  flags: InferenceFlags,
  engine: InferenceEngine,
  backend: BackendTraits,
): Pick<PredictOptions, 'mode' | 'window' | 'overlap' | 'memoryLimit' | 'padToStride'> {
  const limit = engine.capabilities.memory === 'host' ? totalmem() * HOST_RAM_SHARE : backendMemoryLimit(backend.name).bytes;
  return {
    mode: flags.mode as InferenceMode,
    window: flags.window,
    overlap: flags.overlap,
    padToStride: flags.padToStride === true,
    ...(limit !== undefined ? { memoryLimit: limit } : {}),
  };
}
