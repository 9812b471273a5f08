/** `seg predict`: VOC-palette masks (and overlays) for image files and folders. */
import type { Command } from 'commander';
import { progressCallback } from '../core/progress.js';
import { loadTrainedModel } from '../checkpoint/load-model.js';
import { predictFiles } from '../inference/predict-files.js';
import { addBackendOption, parseFloatList, useBackend } from './options.js';
import { checkpointIdentity } from '../checkpoint/checkpoint-identity.js';
import { predictShard } from '../inference/predict-shard.js';
import { formatShard } from '../inference/shards.js';
import { addShardOptions, shardFromFlags, type ShardFlags } from './shard-options.js';

interface PredictFlags extends ShardFlags {
  checkpoint: string;
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
    .requiredOption('--checkpoint <dir>', 'run folder or checkpoint folder written by seg train')
    .requiredOption('--input <paths...>', 'image files (jpg, jpeg, png, webp) and folders (walked)')
    .requiredOption('--output <dir>', 'folder for the masks (created; inputs are never overwritten)')
    .option('--overlay', 'also write the mask blended over the image')
    .option('--scales <list>', 'comma-separated inference scales', parseFloatList('--scales', 0.05, 8), [1])
    .option('--flip', 'also average the horizontally flipped image');
  addShardOptions(cmd);
  addBackendOption(cmd).action(async (flags: PredictFlags) => {
    const shard = shardFromFlags(flags);
    await useBackend(flags.backend);
    const trained = loadTrainedModel(flags.checkpoint);
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
          checkpoint: checkpointIdentity(trained.dir, trained.config.iteration),
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
      trained.model.dispose();
    }
  });
}
