/** `seg train`: train (or resume) one run. */
import type { Command } from 'commander';
import { openDataset } from '../voc/dataset.js';
import { train } from '../training/trainer.js';
import { headSlug } from '../heads/head-spec.js';
import { createProgress } from '../core/progress.js';
import { formatPercent } from '../metrics/metrics-format.js';
import { withInterrupt } from './interrupt.js';
import { addBackendOption, useBackend } from './options.js';
import { validateTrainConfig } from '../training/train-config.js';
import { checkTrainConfigMemory } from '../training/train-memory.js';
import { addTrainingOptions, headTextFromFlags, trainConfigFromFlags, type TrainingFlags } from './train-options.js';

interface TrainFlags extends TrainingFlags {
  head: string;
  out?: string;
  resume?: boolean;
  skipMemoryCheck?: boolean;
}

const TRAIN_MEMORY_HELP = `
Memory: before the first step, seg estimates the peak memory of a step and stops if it exceeds
the backend's limit. These fit the wasm backend (4 GiB of linear memory in all):
  --backbone resnet18 --width 0.25 --crop 321 --batch 8   (about 1.4 GiB)
  --backbone resnet18 --width 0.5  --crop 321 --batch 4   (about 1.3 GiB)
  --backbone resnet50 --width 0.25 --crop 321 --batch 4   (about 2.4 GiB)
The defaults (resnet101, width 1, crop 513, batch 8: about 64 GiB) need a GPU backend.`;

export function registerTrainCommand(program: Command): void {
  const cmd = program
    .command('train')
    .description('train a DeepLab-v3 model with a softmax, egb or linear output head')
    .option('--head <spec>', "output head: softmax | egb | linear, or a full spec such as 'egb:pow3' or 'egb:exp:alpha=0.3'", 'softmax')
    .option('--out <dir>', 'run folder (default: checkpoints/<backbone>-<head>-s<seed>)')
    .option('--resume', 'continue the run in --out from its checkpoint, with the arguments it was started with')
    .option('--skip-memory-check', 'train even when the estimated peak memory exceeds the backend limit (see README, Memory limits)')
    .addHelpText('after', TRAIN_MEMORY_HELP);
  addBackendOption(addTrainingOptions(cmd)).action(async (flags: TrainFlags) => {
    const numClasses = openDataset(flags.data).classNames.length;
    const head = headTextFromFlags(flags.head, flags, numClasses);
    const out = flags.out ?? `checkpoints/${flags.backbone}-${headSlug(head)}-s${flags.seed}`;
    const config = validateTrainConfig(trainConfigFromFlags(flags, head, out));
    const backend = await useBackend(flags.backend);
    if (flags.skipMemoryCheck !== true) checkTrainConfigMemory(config, numClasses, backend.name);
    const progress = createProgress({ total: config.iters, label: 'train' });
    const result = await withInterrupt('saving a checkpoint', (signal) =>
      train(config, {
        log: (line) => progress.log(line),
        onStep: (s) => progress.update(s.iteration, { loss: s.loss, lr: s.lr, acc: s.trainAcc }),
        signal,
        resume: flags.resume === true,
        commandLine: process.argv.slice(1),
      }),
    );
    result.model.dispose();
    if (result.interrupted) {
      process.exitCode = 130;
      return;
    }
    progress.finish({ loss: result.lastLoss });
    process.stdout.write(`${result.out}: ${result.iteration} iterations, val mIoU ${formatPercent(result.metrics?.mIoU ?? null)}%\n`);
  });
}
