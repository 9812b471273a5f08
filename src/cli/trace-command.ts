/** `seg trace`: train every head from the same start on the same batches, val mIoU every K iterations. */
import type { Command } from 'commander';
import { SegError } from '../core/errors.js';
import { runTrace, splitHeadList } from '../experiments/convergence-trace.js';
import { withInterrupt } from './interrupt.js';
import { addBackendOption, useBackend } from './options.js';
import { traceRunProgress } from './run-progress.js';
import { addTrainingOptions, sharedTrainConfigFromFlags, type TrainingFlags } from './train-options.js';
import { validateTrainFields } from '../training/train-config.js';

interface TraceFlags extends TrainingFlags {
  heads: string;
  seeds: string;
  out: string;
}

export function parseSeedList(text: string): number[] {
  const seeds = text.split(',').map((s) => s.trim());
  return seeds.map((s) => {
    const n = Number(s);
    if (s === '' || !Number.isInteger(n) || n < 0 || n >= 2 ** 32) throw new SegError(`--seeds: got '${text}', expected comma-separated integers such as 0,1,2`, '--seeds');
    return n;
  });
}

export function registerTraceCommand(program: Command): void {
  const cmd = program
    .command('trace')
    .description('convergence trace: one run per head and seed from the same initial weights and batches; then `seg compare DIR`')
    .requiredOption('--heads <list>', "comma-separated head specs, e.g. softmax,egb or softmax,egb,egb:pow3,linear")
    .option('--seeds <list>', 'comma-separated seeds (one run per head and seed)', '0')
    .requiredOption('--out <dir>', 'trace folder (runs, trace.csv); rerun the same command to resume');
  addBackendOption(addTrainingOptions(cmd)).action(async (flags: TraceFlags) => {
    if (flags.boost !== undefined || flags.egbAlpha !== undefined || flags.egbBeta !== undefined) {
      throw new SegError("seg trace: write egb parameters into each head of --heads (e.g. egb:pow3 or egb:exp:alpha=0.3) instead of --boost/--egb-alpha/--egb-beta", '--heads');
    }
    validateTrainFields(sharedTrainConfigFromFlags(flags));
    await useBackend(flags.backend);
    const heads = splitHeadList(flags.heads);
    const seeds = parseSeedList(flags.seeds);
    const base = sharedTrainConfigFromFlags(flags);
    const result = await withInterrupt('saving the current run', (signal) =>
      runTrace(
        { heads, seeds, out: flags.out, base },
        { log: (line) => process.stderr.write(`${line}\n`), signal, runHooks: traceRunProgress(base.iters) },
      ),
    );
    if (result.interrupted) {
      process.stderr.write(`trace interrupted; rerun the same command to resume\n`);
      process.exitCode ??= 130;
      return;
    }
    process.stdout.write(`${result.csv}: ${result.runs.length} runs; compare them with: seg compare ${flags.out}\n`);
  });
}
