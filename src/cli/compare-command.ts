/** `seg compare DIR`: best/final mIoU, iterations and time to a target, speed-up, and the convergence charts of a trace. */
import { Option, type Command } from 'commander';
import { compareTraceDir, DEFAULT_BASELINE_HEAD, DEFAULT_COMPARE_TARGET } from '../experiments/compare.js';
import { formatComparisonMarkdown, formatComparisonTable } from '../experiments/compare-format.js';
import { parseFloatFlag } from './options.js';

export const COMPARE_FORMATS = ['table', 'md', 'json'] as const;
type CompareFormat = (typeof COMPARE_FORMATS)[number];

interface CompareFlags {
  target: number;
  format: CompareFormat;
  baseline?: string;
  charts: boolean;
}

export function registerCompareCommand(program: Command): void {
  program
    .command('compare')
    .description('compare the heads of a trace (DIR/trace.csv from seg trace): mIoU, iterations and time to a target, speed-up; writes DIR/miou.svg|png and DIR/loss.svg|png')
    .argument('<dir>', 'trace directory written by seg trace --out')
    .option('--target <fraction>', "fraction of the baseline's mean best val mIoU to reach", parseFloatFlag('--target', 0.01, 2), DEFAULT_COMPARE_TARGET)
    .addOption(new Option('--format <format>', 'output: aligned table, Markdown table, or JSON').choices([...COMPARE_FORMATS]).default('table'))
    .option('--baseline <head>', `head to measure against, as written in trace.csv (default: ${DEFAULT_BASELINE_HEAD})`)
    .option('--no-charts', 'do not write the SVG/PNG charts')
    .addHelpText(
      'after',
      [
        '',
        'JSON: {target, baseline, baseline_best_miou, threshold, heads: [{head, seeds, best_miou, best_miou_std,',
        '  final_miou, final_miou_std, iters_to_target, iters_to_target_std, wall_to_target, wall_to_target_std,',
        '  reached, speedup_pct, wall_speedup_pct, runs: [per seed]}], notes}. mIoU as fractions in [0, 1];',
        '  *_to_target are means over the seeds that reached the threshold (null if none); std: sample std, null for one seed.',
      ].join('\n'),
    )
    .action(async (dir: string, flags: CompareFlags) => {
      const { comparison, charts } = await compareTraceDir(dir, {
        target: flags.target,
        charts: flags.charts,
        ...(flags.baseline !== undefined ? { baseline: flags.baseline } : {}),
      });
      if (flags.format === 'json') {
        process.stdout.write(`${JSON.stringify(comparison, null, 2)}\n`);
      } else {
        process.stdout.write(`${flags.format === 'md' ? formatComparisonMarkdown(comparison) : formatComparisonTable(comparison)}\n`);
      }
      if (charts !== null) {
        process.stderr.write(`charts: ${charts.miouSvg} ${charts.miouPng} ${charts.lossSvg} ${charts.lossPng}\n`);
      }
    });
}
