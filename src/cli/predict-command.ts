/** `seg predict`: VOC-palette masks (and overlays) for image files and folders. */
import type { Command } from 'commander';
import { progressCallback } from '../core/progress.js';
import { predictFiles } from '../inference/predict-files.js';
import { addBackendOption, parseFloatList, useBackend } from './options.js';
import { addEngineOptions, modelIdentityFromFlags, openPredictorFromFlags, type EngineFlags } from './engine-options.js';
import { predictShard } from '../inference/predict-shard.js';
import { formatShard } from '../inference/shards.js';
import { addShardOptions, shardFromFlags, type ShardFlags } from './shard-options.js';

interface PredictFlags extends EngineFlags, ShardFlags {
  input: string[];
  output: string;
  overlay?: boolean;
  scales: number[];
  flip?: boolean;
  backend?: string;
}

export function registerPredictCommand(program: Command): void {
  const cmd = program
    .command('predict')
    .description('write a VOC-palette mask <name>.png (and with --overlay a blended <name>_overlay.jpg) for every image')
    .option('--checkpoint <dir>', 'run folder or checkpoint folder written by seg train (or --onnx FILE)')
    .requiredOption('--input <paths...>', 'image files (jpg, jpeg, png, webp) and folders (walked)')
    .requiredOption('--output <dir>', 'folder for the masks (created; inputs are never overwritten)')
    .option('--overlay', 'also write the mask blended over the image')
    .option('--scales <list>', 'comma-separated inference scales', parseFloatList('--scales', 0.05, 8), [1])
    .option('--flip', 'also average the horizontally flipped image');
  addShardOptions(cmd);
  addEngineOptions(addBackendOption(cmd)).action(async (flags: PredictFlags) => {
    const shard = shardFromFlags(flags);
    const identity = shard !== undefined ? modelIdentityFromFlags(flags, '--shard') : undefined;
    const backend = await useBackend(flags.backend);
    const trained = await openPredictorFromFlags(flags, backend);
    try {
      if (shard !== undefined) {
        const run = await predictShard(trained.model, trained.head, {
          inputs: flags.input,
          output: flags.output,
          overlay: flags.overlay === true,
          scales: flags.scales,
          flip: flags.flip === true,
          normalization: trained.normalization,
          log: (line) => process.stderr.write(`${line}\n`),
          onProgress: progressCallback('predict'),
          shard,
          checkpoint: identity as NonNullable<typeof identity>,
        });
        const m = run.manifest;
        const fresh = m.done.length - run.resumed;
        process.stdout.write(
          `shard ${formatShard(shard)}: ${fresh} masks written to ${flags.output}, ${run.resumed} already done; ${m.skipped.length} skipped, ${m.failed.length} failed; manifest ${run.manifestPath}\n`,
        );
        if (m.failed.length > 0) process.exitCode = 1;
        return;
      }
      const result = await predictFiles(trained.model, trained.head, {
        inputs: flags.input,
        output: flags.output,
        overlay: flags.overlay === true,
        scales: flags.scales,
        flip: flags.flip === true,
        normalization: trained.normalization,
        log: (line) => process.stderr.write(`${line}\n`),
        onProgress: progressCallback('predict'),
      });
      const masks = result.written.filter((f) => f.endsWith('.png')).length;
      process.stdout.write(`${masks} masks written to ${flags.output}; ${result.skipped.length} skipped, ${result.failed.length} failed\n`);
      if (result.failed.length > 0) process.exitCode = 1;
    } finally {
      await trained.dispose();
    }
  });
}
