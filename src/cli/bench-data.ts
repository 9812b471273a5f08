/** `seg bench data`: training data path throughput (decode, augment, batch) in samples/s. */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { openDataset } from '../datasets/open-dataset.js';
import { type LayoutFlags, layoutOption } from './layout-option.js';
import { benchmarkTrainLoader } from '../bench/loader-benchmark.js';
import { makeSynthDataset } from '../dataset-makers/synth-dataset.js';
import { parseIntFlag } from './options.js';

interface BenchDataFlags extends LayoutFlags {
  data?: string;
  split: string;
  json?: boolean;
  crop: number;
  batch: number;
  batches: number;
  prefetch: number;
}

export function registerBenchData(bench: Command): void {
  bench
    .command('data')
    .description(
      'samples/s of the training data path: JPEG decode, label PNG, random scale/pad/crop/flip, normalise, batch. ' +
        'Without --data, times a temporary synthetic set of 64 500x375 JPEGs (VOC-sized), removed afterwards',
    )
    .option('--data <dir>', 'dataset root to read (default: a temporary synthetic 500x375 set)')
    .addOption(layoutOption())
    .option('--split <name>', 'list name in ImageSets/Segmentation', 'train')
    .option('--json', 'print one JSON object')
    .option('--crop <px>', 'square crop side', parseIntFlag('--crop', 1, 4096), 513)
    .option('--batch <n>', 'batch size', parseIntFlag('--batch', 1, 1024), 8)
    .option('--batches <n>', 'batches timed (after one warm-up batch)', parseIntFlag('--batches', 1), 10)
    .option('--prefetch <n>', 'batches decoded ahead', parseIntFlag('--prefetch', 1, 64), 2)
    .action(async (flags: BenchDataFlags) => {
      let temp: string | undefined;
      try {
        let root = flags.data;
        if (root === undefined) {
          temp = mkdtempSync(join(tmpdir(), 'seg-bench-data-'));
          root = (await makeSynthDataset({ out: join(temp, 'voc'), train: 64, val: 0, width: 500, height: 375, seed: 0 })).root;
        }
        const r = await benchmarkTrainLoader({
          dataset: openDataset(root, flags.data === undefined ? 'auto' : flags.layout),
          split: flags.split,
          crop: flags.crop,
          batchSize: flags.batch,
          batches: flags.batches,
          prefetch: flags.prefetch,
        });
        const out = {
          data: flags.data ?? 'synthetic 500x375 (temporary)',
          crop: r.crop,
          batch: r.batchSize,
          prefetch: r.prefetch,
          samples: r.samples,
          seconds: Number(r.seconds.toFixed(3)),
          samplesPerSecond: Number(r.samplesPerSecond.toFixed(1)),
          msPerBatch: Number(r.msPerBatch.toFixed(1)),
          cpuMsPerSample: Number(r.cpuMsPerSample.toFixed(1)),
          cpus: availableParallelism(),
        };
        process.stdout.write(
          flags.json === true
            ? `${JSON.stringify(out)}\n`
            : `data ${out.data}: ${out.samplesPerSecond} samples/s (${out.crop}x${out.crop} crops, batch ${out.batch}, ${out.msPerBatch} ms/batch, prefetch ${out.prefetch}; ${out.cpuMsPerSample} CPU ms/sample on ${out.cpus} cores)\n`,
        );
      } finally {
        if (temp !== undefined) rmSync(temp, { recursive: true, force: true });
      }
    });
}
