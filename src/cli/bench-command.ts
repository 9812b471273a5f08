/** `seg bench <what>`: benchmarks that print figures. Each subject lives in its own file. */
import type { Command } from 'commander';
import { registerBenchOps } from './bench-ops.js';
import { registerBenchModel } from './bench-model.js';
import { registerBenchData } from './bench-data.js';

export function registerBenchCommand(program: Command): void {
  const bench = program.command('bench').description('benchmarks that print figures (ops, data, train, infer)');
  registerBenchOps(bench);
  registerBenchModel(bench);
  registerBenchData(bench);
}
