/** `seg eval`: mIoU of a checkpoint on a split, or of mask PNGs already written. */
import type { Command } from 'commander';
import { SegError } from '../core/errors.js';
import { formatMetricsTable } from '../metrics/metrics-format.js';
import { progressCallback } from '../core/progress.js';
import { evaluateModel, evaluatePredictions, type EvaluationResult } from '../inference/evaluate.js';
import { openDataset } from '../voc/dataset.js';
import { addBackendOption, parseFloatList, parseIntFlag, useBackend } from './options.js';
import { addEngineOptions, openPredictorFromFlags, type EngineFlags } from './engine-options.js';

interface EvalFlags extends EngineFlags {
  checkpoint?: string;
  predictions?: string;
  data: string;
  split: string;
  scales: number[];
  flip?: boolean;
  json?: boolean;
  limit?: number;
  miou?: boolean;
  backend?: string;
}

/** The JSON the issue specifies: summary metrics, image count, per-class rows (iou null for an empty union). */
export function evaluationJson(result: EvaluationResult): Record<string, unknown> {
  const m = result.metrics;
  return {
    mIoU: m.mIoU,
    aAcc: m.aAcc,
    mAcc: m.mAcc,
    fwIoU: m.fwIoU,
    images: result.images,
    classes: m.classes.map((c) => ({ name: c.name, iou: c.iou, acc: c.acc, pixels: c.pixels })),
  };
}

export function registerEvalCommand(program: Command): void {
  const cmd = program
    .command('eval')
    .description('score a checkpoint (or existing mask PNGs) on a split: per-class IoU, mIoU, pixel and class accuracy, fwIoU')
    .option('--miou', 'report mIoU and the per-class table (the default and only report)')
    .option('--checkpoint <dir>', 'run folder or checkpoint folder written by seg train')
    .option('--predictions <dir>', 'score these masks instead: one <id>.png per id (palette or grayscale)')
    .requiredOption('--data <dir>', 'dataset root in VOC layout')
    .option('--split <name>', 'split to score', 'val')
    .option('--scales <list>', 'comma-separated inference scales, e.g. 0.5,0.75,1,1.25,1.5,1.75', parseFloatList('--scales', 0.05, 8), [1])
    .option('--flip', 'also average the horizontally flipped image')
    .option('--limit <n>', 'only the first N ids of the split', parseIntFlag('--limit', 1))
    .option('--json', 'print {mIoU, aAcc, mAcc, fwIoU, images, classes: [{name, iou, acc, pixels}]}');
  addEngineOptions(addBackendOption(cmd)).action(async (flags: EvalFlags) => {
    if ((flags.checkpoint === undefined && flags.onnx === undefined) === (flags.predictions === undefined)) {
      throw new SegError('seg eval: pass exactly one of --checkpoint DIR or --onnx FILE (score a model) or --predictions DIR (score mask PNGs)', '--checkpoint');
    }
    const dataset = openDataset(flags.data);
    const onProgress = progressCallback('eval');
    let result: EvaluationResult;
    if (flags.predictions !== undefined) {
      result = await evaluatePredictions(flags.predictions, dataset, flags.split, { onProgress, ...(flags.limit !== undefined ? { limit: flags.limit } : {}) });
    } else {
      const backend = await useBackend(flags.backend, flags.json === true);
      const trained = await openPredictorFromFlags(flags, backend, flags.json === true);
      try {
        result = await evaluateModel(trained.model, trained.head, dataset, flags.split, {
          scales: flags.scales,
          flip: flags.flip === true,
          onProgress,
          ...(flags.limit !== undefined ? { limit: flags.limit } : {}),
        });
      } finally {
        await trained.dispose();
      }
    }
    if (flags.json === true) {
      process.stdout.write(`${JSON.stringify(evaluationJson(result), null, 2)}\n`);
    } else {
      process.stdout.write(`${formatMetricsTable(result.metrics)}\n${result.images} images of '${flags.split}'\n`);
    }
  });
}
