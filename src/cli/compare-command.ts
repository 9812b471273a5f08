/** `seg compare DIR`: best/final mIoU, iterations and time to a target, speed-up, and the convergence charts of a trace. */
import { Option, type Command } from 'commander';
import { compareTraceDir } from '../experiments/compare-trace-dir.js';
import { DEFAULT_BASELINE_HEAD, DEFAULT_COMPARE_TARGET, LR_SELECTION_RULES, type LrSelectionRule } from '../experiments/compare.js';
import { formatComparisonMarkdown, formatComparisonTable } from '../experiments/compare-format.js';
import { parseFloatFlag } from './options.js';
import { SegError } from '../core/errors.js';

export const COMPARE_FORMATS = ['table', 'md', 'json'] as const;
type CompareFormat = (typeof COMPARE_FORMATS)[number];

interface CompareFlags {
  target: number;
  format: CompareFormat;
  json?: boolean;
  baseline?: string;
  select?: 'best-lr';
  selectBy: LrSelectionRule;
  charts: boolean;
}

export function registerCompareCommand(program: Command): void {
  program
    .command('compare')
    .description(
      'compare the heads of a trace (DIR/trace.csv from seg trace): mIoU, iterations and time to a target, speed-up; writes DIR/miou.svg|png and DIR/loss.svg|png',
    )
    .argument('<dir>', 'trace directory written by seg trace --out')
    .option(
      '--target <fraction>',
      "fraction of the baseline's mean best val mIoU to reach",
      parseFloatFlag('--target', 0.01, 2),
      DEFAULT_COMPARE_TARGET,
    )
    .addOption(
      new Option('--format <format>', 'output: aligned table, Markdown table, or JSON').choices([...COMPARE_FORMATS]).default('table'),
    )
    .option('--json', 'print one JSON object (same as --format json)')
    .option('--baseline <head>', `head to measure against, as written in trace.csv (default: ${DEFAULT_BASELINE_HEAD})`)
    .addOption(
      new Option(
        '--select <what>',
        'best-lr: print the lr grid of a `seg trace --lrs` trace and compare each head at its selected lr',
      ).choices(['best-lr']),
    )
    .addOption(
      new Option(
        '--select-by <rule>',
        "rule of --select best-lr: best = highest mean over seeds of the runs' best val mIoU; auc = highest mean area under the val mIoU curve",
      )
        .choices([...LR_SELECTION_RULES])
        .default('best'),
    )
    .option('--no-charts', 'do not write the SVG/PNG charts')
    .addHelpText(
      'after',
      [
        '',
        'JSON: {target, baseline, baselineLr, baselineBestMIoU, threshold, selection, heads: [{head, lr, seeds, diverged,',
        '  bestMIoU, bestMIoUStd, finalMIoU, finalMIoUStd, itersToTarget, itersToTargetStd, wallToTarget, wallToTargetStd,',
        '  reached, speedupPct, wallSpeedupPct, runs: [{seed, ..., divergedAt}]}], notes}. mIoU as fractions in [0, 1];',
        '  *ToTarget are means over the seeds that reached the threshold (null if none); std: sample std, null for one seed.',
        '  selection (with --select best-lr): {rule, description, grid: [{head, lr, scoredSeeds, score, selected, runs}]}.',
        'A run whose loss became non-finite is diverged at that iteration: it never reaches the target and is left out of',
        'the mIoU means (its best before diverging is listed per run); charts mark it with a cross.',
      ].join('\n'),
    )
    .action(async (dir: string, flags: CompareFlags, command: Command) => {
      if (command.getOptionValueSource('selectBy') === 'cli' && flags.select === undefined) {
        throw new SegError(`--select-by: only with --select best-lr (it is the rule that picks each head's lr)`, '--select-by');
      }
      if (flags.json === true && command.getOptionValueSource('format') === 'cli' && flags.format !== 'json') {
        throw new SegError(`--json and --format ${flags.format}: --json is --format json; give one of them`, '--json');
      }
      const { comparison, charts } = await compareTraceDir(dir, {
        target: flags.target,
        charts: flags.charts,
        ...(flags.baseline !== undefined ? { baseline: flags.baseline } : {}),
        ...(flags.select !== undefined ? { select: flags.select, selectBy: flags.selectBy } : {}),
      });
      if (flags.json === true || flags.format === 'json') {
        process.stdout.write(`${JSON.stringify(comparison, null, 2)}\n`);
      } else {
        process.stdout.write(`${flags.format === 'md' ? formatComparisonMarkdown(comparison) : formatComparisonTable(comparison)}\n`);
      }
      if (charts !== null) {
        process.stderr.write(`charts: ${charts.miouSvg} ${charts.miouPng} ${charts.lossSvg} ${charts.lossPng}\n`);
      }
    });
}
