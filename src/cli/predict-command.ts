/** `seg predict`: VOC-palette masks (and overlays) for image files and folders. */
import type { Command } from 'commander';
import { progressCallback } from '../core/progress.js';
import { loadTrainedModel } from '../checkpoint/load-model.js';
import { predictFiles } from '../inference/predict-files.js';
import { addBackendOption, parseFloatList, useBackend } from './options.js';
import { addInferenceOptions, inferenceOptionsFromFlags } from './inference-options.js';
import { requireCheckpointPath } from './checkpoint-path.js';
import { planPredictOutputs } from '../inference/predict-paths.js';
import { withCleanup } from '../core/cleanup.js';
import { printable } from '../core/printable.js';

interface PredictFlags {
  checkpoint: string;
  input: string[];
  output: string;
  overlay?: boolean;
  scales: number[];
  flip?: boolean;
  backend?: string;
  mode: string;
  window: number;
  overlap: number;
}

export function registerPredictCommand(program: Command): void {
  const cmd = program
    .command('predict')
    .description('write a VOC-palette mask <name>.png (and with --overlay a blended <name>_overlay.jpg) for every image')
    .requiredOption('--checkpoint <dir>', 'run folder or checkpoint folder written by seg train')
    .requiredOption('--input <paths...>', 'image files (jpg, jpeg, png, webp) and folders (walked)')
    .requiredOption('--output <dir>', 'folder for the masks, outside the input folders (created; mirrors input subfolders; inputs are never overwritten)')
    .option('--overlay', 'also write the mask blended over the image')
    .option('--scales <list>', 'comma-separated inference scales', parseFloatList('--scales', 0.05, 8), [1])
    .option('--flip', 'also average the horizontally flipped image');
  addBackendOption(addInferenceOptions(cmd)).action(async (flags: PredictFlags) => {
    requireCheckpointPath(flags.checkpoint);
    const plan = planPredictOutputs(flags.input, flags.output);
    const backend = await useBackend(flags.backend);
    const trained = loadTrainedModel(flags.checkpoint);
    await withCleanup(async () => {
      const result = await predictFiles(trained.model, trained.head, {
        plan,
        ...inferenceOptionsFromFlags(flags, backend.name),
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
      process.stdout.write(`${masks} masks written to ${printable(flags.output)}; ${result.skipped.length} skipped, ${result.failed.length} failed\n`);
      if (result.failed.length > 0) process.exitCode = 1;
    }, () => trained.model.dispose());
  });
}
