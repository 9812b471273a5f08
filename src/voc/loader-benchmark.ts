/** Throughput of the training data path (decode, augment, batch) as the trainer would see it. */
import type { Dataset } from './dataset.js';
import { createTrainLoader } from './batch-loader.js';

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
    for (let i = 0; i < batches; i++) await loader.nextBatch();
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const samples = batches * batchSize;
    return { samples, seconds, samplesPerSecond: samples / seconds, msPerBatch: (seconds * 1000) / batches, crop, batchSize, prefetch };
  } finally {
    loader.close();
  }
}
