/**
 * `seg demo`, the toolkit's main job on an embedded default: make the synthetic VOC-layout
 * dataset if absent, trace softmax against egb on a small DeepLab (same initial weights,
 * same batches), compare them (table and charts), evaluate the better head on the val split
 * and predict masks for a few val images. Sized to finish in a few minutes on 2 CPU cores.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { SegMetrics } from '../metrics/segmentation-metrics.js';
import { openDataset } from '../datasets/open-dataset.js';
import { makeSynthDataset } from '../dataset-makers/synth-dataset.js';
import { compareTraceDir, type TraceDirComparison } from './compare-trace-dir.js';
import { runTrace, traceRunDir, type TraceHooks } from './convergence-trace.js';
import { evaluateModel } from '../inference/evaluate.js';
import { tfjsEngine } from '../inference/engines/tfjs.js';
import { loadTrainedModel } from '../checkpoint/load-model.js';
import { predictFiles } from '../inference/predict-files.js';
import { DEFAULT_TRAIN_CONFIG, type SharedTrainSettings } from '../training/train-config.js';

export interface DemoOptions {
  /** Folder for the dataset, the trace, the charts and the masks. */
  out: string;
  iters: number;
  evalEvery: number;
  seed: number;
  /** Val images to predict masks for. */
  masks: number;
}

export const DEMO_DEFAULTS: Omit<DemoOptions, 'out'> = { iters: 240, evalEvery: 40, seed: 0, masks: 4 };

export const DEMO_HEADS = ['softmax', 'egb'];

/** The small model and schedule of the demo (every other argument: seg train's defaults). */
export function demoTrainConfig(data: string, options: DemoOptions): SharedTrainSettings {
  return {
    ...DEFAULT_TRAIN_CONFIG,
    data,
    backbone: 'resnet18',
    outputStride: 16,
    width: 0.25,
    crop: 96,
    batch: 8,
    iters: options.iters,
    lr: 0.05,
    evalEvery: options.evalEvery,
    saveEvery: options.evalEvery,
    logEvery: 5,
  };
}

export interface DemoResult {
  data: string;
  trace: string;
  compared: TraceDirComparison;
  bestHead: string;
  bestRun: string;
  metrics: SegMetrics;
  masks: string[];
  interrupted: boolean;
}

export interface DemoHooks extends TraceHooks {
  onData?: (done: number, total: number) => void;
}

export async function runDemo(options: DemoOptions, hooks: DemoHooks = {}): Promise<DemoResult | { interrupted: true }> {
  const log = hooks.log ?? (() => undefined);
  const data = join(options.out, 'data');
  if (!existsSync(join(data, 'classes.txt'))) {
    log(`making the synthetic dataset in ${data}`);
    await makeSynthDataset({
      out: data,
      train: 160,
      val: 24,
      size: 96,
      seed: options.seed,
      ...(hooks.onData !== undefined ? { onProgress: hooks.onData } : {}),
    });
  }
  const trace = join(options.out, 'trace');
  const traced = await runTrace({ heads: DEMO_HEADS, seeds: [options.seed], out: trace, base: demoTrainConfig(data, options) }, hooks);
  if (traced.interrupted) return { interrupted: true };
  const compared = await compareTraceDir(trace);
  const best = [...compared.comparison.heads].sort((a, b) => (b.finalMIoU ?? -1) - (a.finalMIoU ?? -1))[0];
  const bestHead = best?.head ?? (DEMO_HEADS[0] as string);
  const bestRun = traceRunDir(trace, bestHead, options.seed);
  const trained = loadTrainedModel(bestRun);
  try {
    const dataset = openDataset(data);
    const evaluation = await evaluateModel(tfjsEngine(trained.model), trained.head, dataset, 'val');
    const images = dataset
      .listSplit('val')
      .slice(0, options.masks)
      .map((id) => dataset.imagePath(id));
    const predicted = await predictFiles(tfjsEngine(trained.model), trained.head, {
      inputs: images,
      output: join(options.out, 'masks'),
      overlay: true,
      normalization: trained.normalization,
    });
    return { data, trace, compared, bestHead, bestRun, metrics: evaluation.metrics, masks: predicted.written, interrupted: false };
  } finally {
    trained.model.dispose();
  }
}
