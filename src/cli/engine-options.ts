/** `--engine NAME` (the registered inference engines: tfjs, onnxruntime) and `--onnx FILE` for eval and predict. */
import { type Command, Option } from 'commander';
import type { BackendSelection } from '../engine/backend.js';
import { engineNames } from '../inference/engines/registry.js';
import { openPredictor, type Predictor } from '../inference/predictor.js';
import { checkpointIdentity, type CheckpointIdentity } from '../checkpoint/checkpoint-identity.js';
import { readCheckpointConfig, resolveCheckpointDir } from '../checkpoint/checkpoint.js';
import { resolveModelDir } from '../checkpoint/run-layout.js';
import { SegError } from '../core/errors.js';

export interface EngineFlags {
  checkpoint?: string;
  onnx?: string;
  engine?: string;
}

export function addEngineOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option(
        '--engine <name>',
        'inference engine (default: onnxruntime when installed and the backend is a CPU one, else tfjs); ' +
          "onnxruntime with --backend webgpu runs on onnxruntime's WebGPU provider",
      ).choices(engineNames()),
    )
    .option('--onnx <file>', "run this .onnx file from 'seg export' (on onnxruntime) instead of a checkpoint");
}

/** Open what the flags ask for; says which engine runs on stderr unless quiet. */
export async function openPredictorFromFlags(flags: EngineFlags, backend: BackendSelection, quiet = false): Promise<Predictor> {
  const predictor = await openPredictor({
    ...(flags.checkpoint !== undefined ? { checkpoint: flags.checkpoint } : {}),
    ...(flags.onnx !== undefined ? { onnx: flags.onnx } : {}),
    ...(flags.engine !== undefined ? { engine: flags.engine } : {}),
    // With --backend webgpu, onnxruntime runs on its own WebGPU provider.
    backend: backend.traits,
  });
  if (!quiet) {
    const { engine } = predictor;
    const notes = [
      ...(engine.device === 'webgpu' ? ['webgpu execution provider'] : []),
      ...(engine.padsToStride ? ['the .onnx file pads to the output stride'] : []),
    ];
    process.stderr.write(`engine: ${engine.kind}${notes.length > 0 ? ` (${notes.join('; ')})` : ''}\n`);
  }
  return predictor;
}

/** The identity (iteration, weights hash) of the checkpoint the flags name, for shard records. */
export function modelIdentityFromFlags(flags: EngineFlags, flag: string): CheckpointIdentity {
  if (flags.checkpoint === undefined) {
    throw new SegError(
      `${flag}: needs --checkpoint DIR (shard records identify the checkpoint's weights); shard the checkpoint rather than an exported .onnx file`,
      flag,
    );
  }
  const dir = resolveCheckpointDir(resolveModelDir(flags.checkpoint));
  return checkpointIdentity(dir, readCheckpointConfig(dir).iteration);
}

/** What `--json` reports as the scored model: the checkpoint folder read and its iteration, or the ONNX file. */
export function checkpointSourceFromFlags(flags: EngineFlags): { checkpoint?: string; iteration?: number; onnx?: string } {
  if (flags.checkpoint === undefined) return flags.onnx !== undefined ? { onnx: flags.onnx } : {};
  const dir = resolveCheckpointDir(resolveModelDir(flags.checkpoint));
  return { checkpoint: dir, iteration: readCheckpointConfig(dir).iteration };
}
