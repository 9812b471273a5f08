/** `seg predict`: VOC-palette masks (and overlays) for image files and folders, whole or as one shard of a job array. */
import type { Command } from 'commander';
import { progressCallback, windowProgressCallback } from '../core/progress.js';
import { withCleanup } from '../core/cleanup.js';
import { printable } from '../core/printable.js';
import { countNoun } from '../core/plural.js';
import { predictFiles } from '../inference/predict-files.js';
import { planPredictOutputs } from '../inference/predict-paths.js';
import { predictShard } from '../inference/predict-shard.js';
import { formatShard } from '../inference/shards.js';
import { addBackendOption, parseFloatList, useBackend } from './options.js';
import { addEngineOptions, modelIdentityFromFlags, openPredictorFromFlags, type EngineFlags } from './engine-options.js';
import { addInferenceOptions, inferenceOptionsFromFlags, type InferenceFlags } from './inference-options.js';
import { checkpointFromFlag } from './weights-source.js';
import { checkpointPathFromFlags, describeCheckpoint } from './checkpoint-path.js';
import { SegError } from '../core/errors.js';
import { addShardOptions, shardFromFlags, type ShardFlags } from './shard-options.js';

interface PredictFlags extends EngineFlags, ShardFlags, InferenceFlags {
  input: string[];
  output: string;
  overlay?: boolean;
  scales: number[];
  flip?: boolean;
  best?: boolean;
  backend?: string;
}

export function registerPredictCommand(program: Command): void {
  const cmd = program
    .command('predict')
    .description('write a VOC-palette mask <name>.png (and with --overlay a blended <name>_overlay.jpg) for every image')
    .option(
      '--checkpoint <dir|name>',
      'run folder (its last checkpoint) or checkpoint folder written by seg train, or a weights name (torchvision:deeplabv3_resnet101); or --onnx FILE',
    )
    .option('--best', 'with a run folder: its best checkpoint (<run>/best, from seg train --save-best) instead of the last')
    .requiredOption('--input <paths...>', 'image files (jpg, jpeg, png, webp) and folders (walked)')
    .requiredOption(
      '--output <dir>',
      'folder for the masks, outside the input folders (created; mirrors input subfolders; inputs are never overwritten)',
    )
    .option('--overlay', 'also write the mask blended over the image')
    .option('--scales <list>', 'comma-separated inference scales', parseFloatList('--scales', 0.05, 8), [1])
    .option('--flip', 'also average the horizontally flipped image');
  addShardOptions(cmd);
  addEngineOptions(addBackendOption(addInferenceOptions(cmd))).action(async (flags: PredictFlags) => {
    if (flags.best === true && flags.checkpoint === undefined) throw new SegError('--best: needs --checkpoint RUN', '--best');
    if (flags.checkpoint !== undefined) {
      flags.checkpoint = checkpointPathFromFlags(await checkpointFromFlag(flags.checkpoint), flags.best === true);
      process.stderr.write(`${describeCheckpoint(flags.checkpoint)}\n`);
    }
    const shard = shardFromFlags(flags);
    const identity = shard !== undefined ? modelIdentityFromFlags(flags, '--shard') : undefined;
    const plan = planPredictOutputs(flags.input, flags.output);
    const backend = await useBackend(flags.backend);
    const trained = await openPredictorFromFlags(flags, backend);
    const common = {
      plan,
      ...inferenceOptionsFromFlags(flags, trained.engine, backend.traits),
      inputs: flags.input,
      output: flags.output,
      overlay: flags.overlay === true,
      scales: flags.scales,
      flip: flags.flip === true,
      normalization: trained.normalization,
      log: (line: string) => process.stderr.write(`${line}\n`),
      onProgress: progressCallback('predict'),
      windowProgress: windowProgressCallback('predict'),
    };
    await withCleanup(
      async () => {
        if (shard !== undefined && identity !== undefined) {
          const run = await predictShard(trained.engine, trained.head, { ...common, shard, checkpoint: identity });
          const m = run.manifest;
          const fresh = m.done.length - run.resumed;
          process.stdout.write(
            `shard ${formatShard(shard)}: ${countNoun(fresh, 'mask')} written to ${printable(flags.output)}, ${run.resumed} already done; ` +
              `${m.skipped.length} skipped, ${m.failed.length} failed; manifest ${printable(run.manifestPath)}\n`,
          );
          if (m.failed.length > 0) process.exitCode = 1;
          return;
        }
        const result = await predictFiles(trained.engine, trained.head, common);
        const masks = result.written.filter((f) => f.endsWith('.png')).length;
        process.stdout.write(
          `${countNoun(masks, 'mask')} written to ${printable(flags.output)}; ${result.skipped.length} skipped, ${result.failed.length} failed\n`,
        );
        if (result.failed.length > 0) process.exitCode = 1;
      },
      () => trained.dispose(),
    );
  });
}
