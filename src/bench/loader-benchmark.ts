/** Throughput of the training data path (decode, augment, batch) as the trainer would see it. */
import type { Dataset } from '../datasets/dataset.js';
import { createTrainLoader } from '../data-loading/batch-loader.js';

export interface LoaderBenchOptions {
  dataset: Dataset;
  split?: string;
  crop?: number;
  batchSize?: number;
  /** Batches timed after one warm-up batch (default 10). */
  batches?: number;
  prefetch?: number;
  seed?: number;
}

export interface LoaderBenchResult {
  samples: number;
  seconds: number;
  samplesPerSecond: number;
  msPerBatch: number;
  /** Process CPU time (all threads) per sample: what the data path costs whatever else runs on the machine. */
  cpuMsPerSample: number;
  crop: number;
  batchSize: number;
  prefetch: number;
}

export async function benchmarkTrainLoader(options: LoaderBenchOptions): Promise<LoaderBenchResult> {
  const crop = options.crop ?? 513;
  const batchSize = options.batchSize ?? 8;
  const batches = options.batches ?? 10;
  const prefetch = options.prefetch ?? 2;
  const loader = createTrainLoader({
    dataset: options.dataset,
    split: options.split ?? 'train',
    batchSize,
    crop,
    prefetch,
    seed: options.seed ?? 0,
  });
  try {
    await loader.nextBatch();
    const start = process.hrtime.bigint();
    const cpuStart = process.cpuUsage();
    for (let i = 0; i < batches; i++) await loader.nextBatch();
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const cpu = process.cpuUsage(cpuStart);
    const samples = batches * batchSize;
    return {
      samples,
      seconds,
      samplesPerSecond: samples / seconds,
      msPerBatch: (seconds * 1000) / batches,
      cpuMsPerSample: (cpu.user + cpu.system) / 1000 / samples,
      crop,
      batchSize,
      prefetch,
    };
  } finally {
    loader.close();
  }
}
