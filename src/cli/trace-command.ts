/** `seg trace`: train every head from the same start on the same batches, val mIoU every K iterations. */
import type { Command } from 'commander';
import { SegError } from '../core/errors.js';
import { countNoun } from '../core/plural.js';
import { parseLrList, runTrace, splitHeadList } from '../experiments/convergence-trace.js';
import { pretrainedFromFlag } from './weights-source.js';
import { DEFAULT_BASELINE_HEAD } from '../experiments/compare.js';
import { withInterrupt } from './interrupt.js';
import { addBackendOption, addCaptureOption, captureEnabled, useBackend } from './options.js';
import { traceRunProgress } from './run-progress.js';
import { addConfigOptions, addTrainingOptions, sharedTrainConfigFromFlags, type TrainingFlags } from './train-options.js';
import { isGiven } from './config-file.js';
import { DEFAULT_TRAIN_CONFIG, nestTrainConfig, validateTrainFields } from '../training/train-config.js';
import { nestSettings } from '../training/train-fields.js';
import { checkTrainConfigMemory } from '../training/train-memory.js';
import { openDataset } from '../datasets/open-dataset.js';

interface TraceFlags extends Omit<TrainingFlags, 'evalEvery'> {
  evalEvery?: number;
  heads: string;
  seeds?: string;
  lrs?: string;
  out: string;
  skipMemoryCheck?: boolean;
  capture?: boolean;
  printConfig?: boolean;
}

/** A run's settings (a run config or checkpoint) as a trace's: its head and seed as one-element lists; its run folder is not a trace folder. */
function runSettingsAsTrace(settings: Record<string, unknown>): Record<string, unknown> {
  if (!('head' in settings) && !('seed' in settings)) return settings;
  const { head, seed, out, ...rest } = settings;
  return {
    ...rest,
    ...(head !== undefined && !('heads' in settings) ? { heads: head } : {}),
    ...(seed !== undefined && !('seeds' in settings) ? { seeds: seed } : {}),
    ...(out !== undefined && head === undefined ? { out } : {}),
  };
}

/** Evaluations per trace when --eval-every is not given. */
export const TRACE_EVALUATIONS = 10;

export function defaultTraceEvalEvery(iters: number): number {
  return Math.max(1, Math.ceil(iters / TRACE_EVALUATIONS));
}

export function parseSeedList(text: string): number[] {
  const seeds = text.split(',').map((s) => s.trim());
  return seeds.map((s) => {
    const n = Number(s);
    if (s === '' || !Number.isInteger(n) || n < 0 || n >= 2 ** 32)
      throw new SegError(`--seeds: got '${text}', expected comma-separated integers such as 0,1,2`, '--seeds');
    return n;
  });
}

/** The `seg compare` line that works on this trace as printed: a grid needs --select best-lr, a trace without softmax a --baseline. */
export function compareCommand(out: string, heads: readonly string[], lrs: readonly number[] | undefined): string {
  const quote = (text: string): string => (/^[\w./:=@%+-]+$/.test(text) ? text : `'${text.replace(/'/g, "'\\''")}'`);
  const parts = ['seg', 'compare', quote(out)];
  if (lrs !== undefined && lrs.length > 1) parts.push('--select', 'best-lr');
  if (!heads.includes(DEFAULT_BASELINE_HEAD)) parts.push('--baseline', quote(heads[0] as string));
  return parts.join(' ');
}

export function registerTraceCommand(program: Command): void {
  const cmd = program
    .command('trace')
    .description('convergence trace: one run per head and seed from the same initial weights and batches; then `seg compare DIR`')
    .option('--heads <list>', 'comma-separated head specs, e.g. softmax,egb or softmax,egb,egb:pow3,linear (required)')
    .option('--seeds <list>', 'comma-separated seeds (one run per head and seed; default 0, or --seed)')
    .option(
      '--lrs <list>',
      'learning-rate grid, e.g. 0.01,0.03,0.1: every head runs at every lr (folders <head>-lr<lr>-s<seed>); then seg compare --select best-lr',
    )
    .option('--out <dir>', 'trace folder (runs, trace.csv); rerun the same command to resume (required)')
    .option(
      '--skip-memory-check',
      'trace even when the estimated peak memory of a step exceeds the backend limit (see README, Memory limits)',
    );
  addCaptureOption(cmd);
  addConfigOptions(
    addBackendOption(addTrainingOptions(cmd, { dataHelp: 'dataset root in VOC layout (e.g. made by `seg data synth`; required)' })),
    runSettingsAsTrace,
  );
  const evalEvery = cmd.options.find((o) => o.long === '--eval-every');
  if (evalEvery !== undefined) {
    // The training default (0: only at the end) does not apply: a trace needs evaluations.
    evalEvery.description = `evaluate val mIoU every N iterations (default: --iters / ${TRACE_EVALUATIONS}, rounded up)`;
    evalEvery.defaultValue = undefined;
  }
  cmd.action(async (flags: TraceFlags) => {
    for (const required of ['heads', 'out', 'data'] as const) {
      if (flags[required] === undefined && flags.printConfig !== true)
        throw new SegError(`required option '--${required}' not specified (on the command line or in --config)`, `--${required}`);
    }
    if (flags.boost !== undefined || flags.egbAlpha !== undefined || flags.egbBeta !== undefined) {
      throw new SegError(
        'seg trace: write egb parameters into each head of --heads (e.g. egb:pow3 or egb:exp:alpha=0.3) instead of --boost/--egb-alpha/--egb-beta',
        '--heads',
      );
    }
    const seedGiven = isGiven(cmd, 'seed');
    if (seedGiven && flags.seeds !== undefined)
      throw new SegError('--seed and --seeds: give the seeds of a trace with --seeds only (e.g. --seeds 0,1,2)', '--seeds');
    const lrGiven = isGiven(cmd, 'lr');
    if (lrGiven && flags.lrs !== undefined)
      throw new SegError('--lr and --lrs: give one learning rate with --lr or a grid with --lrs, not both', '--lrs');
    const heads = splitHeadList(flags.heads);
    const seeds = flags.seeds !== undefined ? parseSeedList(flags.seeds) : [seedGiven ? (flags.seed ?? 0) : 0];
    const lrs = flags.lrs !== undefined ? parseLrList(flags.lrs) : undefined;
    const iters = flags.iters ?? DEFAULT_TRAIN_CONFIG.iters;
    const evalEveryGiven = isGiven(cmd, 'evalEvery');
    const base = sharedTrainConfigFromFlags({
      ...flags,
      evalEvery: evalEveryGiven && flags.evalEvery !== undefined ? flags.evalEvery : defaultTraceEvalEvery(iters),
    });
    if (flags.printConfig === true) {
      // The shared settings in their sections, the trace folder as `run.out`: what --config reads back.
      const printed = { heads, seeds, ...(lrs !== undefined ? { lrs } : {}), ...nestSettings({ ...base, out: flags.out }) };
      process.stdout.write(`${JSON.stringify(printed, null, 2)}\n`);
      return;
    }
    validateTrainFields(base);
    if (base.pretrained !== undefined) base.pretrained = await pretrainedFromFlag(base.pretrained);
    const numClasses = openDataset(base.data, base.layout).classNames.length;
    const capture = captureEnabled(flags.capture);
    const perRun = traceRunProgress(base.iters);
    const backend = await useBackend(flags.backend);
    // Every run of a trace has the same model, batch and crop: one check covers them all.
    if (flags.skipMemoryCheck !== true)
      checkTrainConfigMemory(nestTrainConfig({ ...base, head: '', seed: 0, out: flags.out }), numClasses, backend.name);
    const result = await withInterrupt('saving the current run', (signal) =>
      runTrace(
        { heads, seeds, ...(lrs !== undefined ? { lrs } : {}), out: flags.out, base },
        {
          log: (line) => process.stderr.write(`${line}\n`),
          signal,
          runHooks: (run) => ({ ...perRun(run), capture }),
        },
      ),
    );
    if (result.interrupted) {
      process.stderr.write(`trace interrupted; rerun the same command to resume\n`);
      process.exitCode ??= 130;
      return;
    }
    process.stdout.write(
      `${result.csv}: ${countNoun(result.runs.length, 'run')}; compare them with: ${compareCommand(flags.out, heads, lrs)}\n`,
    );
  });
}
