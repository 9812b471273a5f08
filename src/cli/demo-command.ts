/** `seg demo`: the main job on an embedded default (synthetic data, softmax vs egb, charts, masks). */
import type { Command } from 'commander';
import { formatMetricsTable } from '../metrics/metrics-format.js';
import { progressCallback } from '../core/progress.js';
import { formatComparisonTable } from '../experiments/compare-format.js';
import { DEMO_DEFAULTS, runDemo } from '../experiments/demo.js';
import { withInterrupt } from './interrupt.js';
import { addBackendOption, parseIntFlag, useBackend } from './options.js';
import { traceRunProgress } from './run-progress.js';

interface DemoFlags {
  out: string;
  iters: number;
  evalEvery: number;
  seed: number;
  backend?: string;
}

export function registerDemoCommand(program: Command): void {
  const cmd = program
    .command('demo')
    .description(
      'make a synthetic dataset, trace softmax vs egb on a small DeepLab, compare, evaluate and predict masks (a few minutes on 2 cores)',
    )
    .option('--out <dir>', 'folder for data, trace, charts and masks (rerun to resume)', 'checkpoints/demo')
    .option('--iters <n>', 'training iterations per head', parseIntFlag('--iters', 1), DEMO_DEFAULTS.iters)
    .option('--eval-every <n>', 'val mIoU every N iterations', parseIntFlag('--eval-every', 1), DEMO_DEFAULTS.evalEvery)
    .option('--seed <k>', 'seed of every random choice', parseIntFlag('--seed', 0, 2 ** 32 - 1), DEMO_DEFAULTS.seed);
  addBackendOption(cmd).action(async (flags: DemoFlags) => {
    await useBackend(flags.backend);
    const result = await withInterrupt('saving the current run; rerun seg demo to resume', (signal) =>
      runDemo(
        { out: flags.out, iters: flags.iters, evalEvery: flags.evalEvery, seed: flags.seed, masks: DEMO_DEFAULTS.masks },
        {
          log: (line) => process.stderr.write(`${line}\n`),
          signal,
          onData: progressCallback('data'),
          runHooks: traceRunProgress(flags.iters),
        },
      ),
    );
    if (result.interrupted) {
      process.exitCode ??= 130;
      return;
    }
    const out = process.stdout;
    out.write(
      `\nsoftmax vs egb on ${result.data} (seg compare ${result.trace}):\n\n${formatComparisonTable(result.compared.comparison)}\n`,
    );
    out.write(`\nbest final head: ${result.bestHead} (${result.bestRun}); val metrics:\n\n${formatMetricsTable(result.metrics)}\n`);
    const charts = result.compared.charts;
    if (charts !== null) out.write(`\ncharts: ${Object.values(charts).join(' ')}\n`);
    out.write(`masks: ${result.masks.join(' ')}\n`);
  });
}
