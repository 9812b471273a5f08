/** `seg bench ops`: conv layer throughput, forward and forward + both gradients. */
import type { Command } from 'commander';
import { benchmarkConvOps } from '../bench/ops-benchmark.js';
import { addBackendOption, parseIntFlag, useBackend } from './options.js';

interface BenchOpsFlags {
  backend?: string;
  json?: boolean;
  repeats: number;
}

export function registerBenchOps(bench: Command): void {
  const cmd = bench
    .command('ops')
    .description('time a 3x3 conv layer (batch 4, 64x64, 64->64) at dilation 1 and 2: forward, and forward + input and filter gradients')
    .option('--json', 'print one JSON object per case')
    .option('--repeats <n>', 'timed repetitions per case (median reported)', parseIntFlag('--repeats', 1), 5);
  addBackendOption(cmd).action(async (flags: BenchOpsFlags) => {
    await useBackend(flags.backend, flags.json === true);
    const cases = await benchmarkConvOps({ repeats: flags.repeats });
    for (const c of cases) {
      if (flags.json === true) {
        process.stdout.write(`${JSON.stringify(c)}\n`);
      } else {
        process.stdout.write(
          `${c.backend} conv3x3 ${c.batch}x${c.size}x${c.size}x${c.channels} dilation ${c.dilation}: ` +
            `fwd ${c.fwdMs} ms (${c.fwdGflops} GFLOP/s), fwd+bwd ${c.fwdBwdMs} ms (${c.fwdBwdGflops} GFLOP/s)\n`,
        );
      }
    }
  });
}
