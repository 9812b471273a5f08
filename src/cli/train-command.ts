/** `seg train`: train (or resume) one run. */
import type { Command } from 'commander';
import { SegError } from '../core/errors.js';
import { openDataset } from '../datasets/open-dataset.js';
import { train } from '../training/trainer.js';
import { countNoun } from '../core/plural.js';
import { headSlug } from '../heads/head-spec.js';
import { createProgress, type Progress } from '../core/progress.js';
import { formatPercent } from '../metrics/metrics-format.js';
import { renameFields } from './field-flags.js';
import { withInterrupt } from './interrupt.js';
import { addBackendOption, addCaptureOption, captureEnabled, useBackend } from './options.js';
import { checkTrainConfigMemory } from '../training/train-memory.js';
import {
  addConfigOptions,
  addTrainingOptions,
  fieldOption,
  headTextFromFlags,
  sharedTrainConfigFromFlags,
  trainConfigFromFlags,
  typedFields,
  type TrainingFlags,
} from './train-options.js';
import { validateTrainFields } from '../training/train-config.js';
import { runCheckpointExists } from '../checkpoint/run-layout.js';
import { pretrainedFromFlag } from './weights-source.js';
import { checkResumeTarget } from '../training/run-setup.js';

interface TrainFlags extends TrainingFlags {
  head: string;
  out?: string;
  resume?: boolean;
  allowInexactResume?: boolean;
  skipMemoryCheck?: boolean;
  capture?: boolean;
  printConfig?: boolean;
}

const TRAIN_MEMORY_HELP = `
Memory: before the first step, seg estimates the peak memory of a step and stops if it exceeds
the backend's limit. These fit the wasm backend (4 GiB of linear memory in all):
  --backbone resnet18 --width 0.25 --crop 321 --batch 8   (about 1.4 GiB)
  --backbone resnet18 --width 0.5  --crop 321 --batch 4   (about 1.3 GiB)
  --backbone resnet50 --width 0.25 --crop 321 --batch 4   (about 2.4 GiB)
The defaults (resnet101, width 1, crop 513, batch 8: about 64 GiB) need a GPU backend.`;

/**
 * What --print-config prints: the run's settings in their sections, as a run's config.json
 * holds them and --config reads them back (the egb flags folded into `head` when the dataset
 * is there, else kept as top-level keys).
 */
function printedTrainConfig(flags: TrainFlags): Record<string, unknown> {
  const egb = flags.boost !== undefined || flags.egbAlpha !== undefined || flags.egbBeta !== undefined;
  const head =
    egb && flags.data !== undefined
      ? headTextFromFlags(flags.head, flags, openDataset(flags.data, flags.layout).classNames.length)
      : flags.head;
  const out = flags.out ?? `checkpoints/${flags.backbone}-${headSlug(head)}-s${flags.seed}`;
  const config = trainConfigFromFlags(flags, head, out);
  const { root, ...data } = config.data;
  const printed: Record<string, unknown> = { ...config, data: flags.data === undefined ? data : { root, ...data } };
  if (egb && flags.data === undefined) {
    for (const key of ['boost', 'egbAlpha', 'egbBeta'] as const) if (flags[key] !== undefined) printed[key] = flags[key];
  }
  return printed;
}

export function registerTrainCommand(program: Command): void {
  const cmd = program
    .command('train')
    .description('train a DeepLab-v3 model with a softmax, egb or linear output head')
    .addOption(fieldOption('head'))
    .option('--out <dir>', 'run folder (default: checkpoints/<backbone>-<head>-s<seed>)')
    .option(
      '--resume',
      'continue the run in --out from its checkpoint: it keeps its model and recipe, a different --head or model flag is an error, ' +
        'a higher --iters extends it, --eval-every/--eval-limit/--save-every/--log-every/--val-split/--data apply',
    )
    .option(
      '--allow-inexact-resume',
      'with --resume: continue a checkpoint that lacks optimizer.safetensors (momentum restarts at zero) or its loader position ' +
        '(batches restart at the first of the order); refused otherwise, since the run would not be the run it would have been',
    )
    .option('--skip-memory-check', 'train even when the estimated peak memory exceeds the backend limit (see README, Memory limits)')
    .addHelpText('after', TRAIN_MEMORY_HELP);
  addCaptureOption(cmd);
  addConfigOptions(
    addBackendOption(
      addTrainingOptions(cmd, {
        dataHelp: 'dataset root in VOC layout (e.g. made by `seg data synth`); required unless --resume --out DIR',
      }),
    ),
  ).action(async (flags: TrainFlags, command: Command) => {
    const resume = flags.resume === true;
    if (flags.printConfig === true) {
      process.stdout.write(`${JSON.stringify(printedTrainConfig(flags), null, 2)}\n`);
      return;
    }
    if (flags.data === undefined && !(resume && flags.out !== undefined)) {
      throw new SegError(
        "required option '--data <dir>' not specified (only --resume --out DIR can do without: the run knows its dataset)",
        '--data',
      );
    }
    const given = typedFields(command);
    // The typed flags are checked before anything starts; the library checks the whole config again.
    const typed: Record<string, unknown> = { ...sharedTrainConfigFromFlags(flags), seed: flags.seed };
    validateTrainFields(Object.fromEntries(given.filter((f) => f in typed).map((f) => [f, typed[f]])));
    const numClasses = flags.data !== undefined ? openDataset(flags.data, flags.layout).classNames.length : 0;
    // Without --data (resuming), the run's own head is kept unless --head is typed.
    const head = flags.data !== undefined ? headTextFromFlags(flags.head, flags, numClasses) : flags.head;
    const out = flags.out ?? `checkpoints/${flags.backbone}-${headSlug(head)}-s${flags.seed}`;
    const config = trainConfigFromFlags(flags, head, out);
    if (resume) checkResumeTarget(config);
    // A weights name is fetched once into the cache; a resumed run keeps the weights it started from.
    if (config.model.pretrained !== undefined && !(resume && runCheckpointExists(out)))
      config.model.pretrained = await pretrainedFromFlag(config.model.pretrained);
    const backend = await useBackend(flags.backend);
    // A resumed run keeps the recipe it already trained with.
    if (flags.skipMemoryCheck !== true && !resume) checkTrainConfigMemory(config, numClasses, backend.name);
    // The bar starts with the first step: a resumed run's length is known only then.
    let progress: Progress | undefined;
    const log = (line: string): void =>
      progress !== undefined ? progress.log(renameFields(line)) : void process.stderr.write(`${renameFields(line)}\n`);
    const result = await withInterrupt('saving a checkpoint', (signal) =>
      train(config, {
        log,
        onStep: (s) => {
          progress ??= createProgress({ total: s.iterations, label: 'train', start: s.iteration - 1 });
          progress.update(s.iteration, {
            loss: s.loss,
            lr: s.lr,
            acc: s.trainAcc,
            ...(s.gradNorm !== undefined ? { grad_norm: s.gradNorm } : {}),
          });
        },
        signal,
        resume,
        allowInexactResume: flags.allowInexactResume === true,
        given,
        commandLine: process.argv.slice(1),
        capture: captureEnabled(flags.capture),
      }),
    );
    result.model.dispose();
    if (result.interrupted) return;
    if (result.alreadyFinished) {
      process.stdout.write(
        `${result.out}: the run is finished (${countNoun(result.iteration, 'iteration')}, val mIoU ${formatPercent(result.savedMIoU ?? null)}% at its last evaluation); ` +
          'nothing to train. Raise --iters to extend it.\n',
      );
      return;
    }
    progress?.finish({ loss: result.lastLoss });
    const best =
      result.best !== undefined
        ? `; best val ${result.best.metric} ${formatPercent(result.best.value)}% at iteration ${result.best.iteration} (${result.best.dir})`
        : '';
    process.stdout.write(
      `${result.out}: ${countNoun(result.iteration, 'iteration')}, val mIoU ${formatPercent(result.metrics?.mIoU ?? null)}%${best}\n`,
    );
  });
}
