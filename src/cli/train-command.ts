/** `seg train`: train (or resume) one run. */
import type { Command } from 'commander';
import { countNoun } from '../core/plural.js';
import { openDataset } from '../voc/dataset.js';
import { train } from '../training/trainer.js';
import { headSlug } from '../heads/head-spec.js';
import { createProgress } from '../core/progress.js';
import { formatPercent } from '../metrics/metrics-format.js';
import { withInterrupt } from './interrupt.js';
import { addBackendOption, useBackend } from './options.js';
import { addTrainingOptions, headTextFromFlags, trainConfigFromFlags, type TrainingFlags } from './train-options.js';

interface TrainFlags extends TrainingFlags {
  head: string;
  out?: string;
  resume?: boolean;
}

export function registerTrainCommand(program: Command): void {
  const cmd = program
    .command('train')
    .description('train a DeepLab-v3 model with a softmax, egb or linear output head')
    .option('--head <spec>', "output head: softmax | egb | linear, or a full spec such as 'egb:pow3' or 'egb:exp:alpha=0.3'", 'softmax')
    .option('--out <dir>', 'run folder (default: checkpoints/<backbone>-<head>-s<seed>)')
    .option('--resume', 'continue the run in --out from its checkpoint, with the arguments it was started with');
  addBackendOption(addTrainingOptions(cmd)).action(async (flags: TrainFlags) => {
    await useBackend(flags.backend);
    const numClasses = openDataset(flags.data).classNames.length;
    const head = headTextFromFlags(flags.head, flags, numClasses);
    const out = flags.out ?? `checkpoints/${flags.backbone}-${headSlug(head)}-s${flags.seed}`;
    const config = trainConfigFromFlags(flags, head, out);
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
    process.stdout.write(`${result.out}: ${countNoun(result.iteration, 'iteration')}, val mIoU ${formatPercent(result.metrics?.mIoU ?? null)}%\n`);
  });
}
