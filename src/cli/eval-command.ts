/** `seg eval`: mIoU of a checkpoint on a split, or of mask PNGs already written. */
import type { Command } from 'commander';
import { SegError } from '../core/errors.js';
import { formatMetricsTable } from '../metrics/metrics-format.js';
import { progressCallback } from '../core/progress.js';
import { evaluateModel, evaluatePredictions, type EvaluationResult } from '../inference/evaluate.js';
import { loadTrainedModel } from '../checkpoint/load-model.js';
import { openDataset } from '../voc/dataset.js';
import { addBackendOption, parseFloatList, parseIntFlag, useBackend } from './options.js';
import { addInferenceOptions, inferenceOptionsFromFlags } from './inference-options.js';
import { requireCheckpointPath } from './checkpoint-path.js';
import { withCleanup } from '../core/cleanup.js';
import { printable } from '../core/printable.js';

interface EvalFlags {
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
  mode: string;
  window: number;
  overlap: number;
}

/** What was scored, for `--json`: the checkpoint (and its iteration) or the predictions folder, and the split. */
export interface EvaluationSource {
  checkpoint?: string;
  predictions?: string;
  iteration?: number;
  split: string;
}

/** The JSON the issue specifies: summary metrics, image count, per-class rows (iou null for an empty union). */
export function evaluationJson(result: EvaluationResult, source?: EvaluationSource): Record<string, unknown> {
  const m = result.metrics;
  return {
    ...(source !== undefined ? sourceJson(source) : {}),
    mIoU: m.mIoU,
    aAcc: m.aAcc,
    mAcc: m.mAcc,
    fwIoU: m.fwIoU,
    images: result.images,
    classes: m.classes.map((c) => ({ name: c.name, iou: c.iou, acc: c.acc, pixels: c.pixels })),
    ...(source !== undefined ? { skipped: result.skipped } : {}),
  };
}

function sourceJson(source: EvaluationSource): Record<string, unknown> {
  return {
    ...(source.checkpoint !== undefined ? { checkpoint: source.checkpoint } : {}),
    ...(source.predictions !== undefined ? { predictions: source.predictions } : {}),
    split: source.split,
    ...(source.iteration !== undefined ? { iteration: source.iteration } : {}),
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
    .option('--json', 'print {checkpoint, split, iteration, mIoU, aAcc, mAcc, fwIoU, images, classes: [{name, iou, acc, pixels}], skipped: [{id, error}]}');
  addBackendOption(addInferenceOptions(cmd)).action(async (flags: EvalFlags) => {
    if ((flags.checkpoint === undefined) === (flags.predictions === undefined)) {
      throw new SegError('seg eval: pass exactly one of --checkpoint DIR (score a model) or --predictions DIR (score mask PNGs)', '--checkpoint');
    }
    const dataset = openDataset(flags.data);
    const onProgress = progressCallback('eval');
    let result: EvaluationResult;
    const source: EvaluationSource = { split: flags.split, ...(flags.predictions !== undefined ? { predictions: flags.predictions } : {}) };
    if (flags.predictions !== undefined) {
      result = await evaluatePredictions(flags.predictions, dataset, flags.split, { onProgress, ...(flags.limit !== undefined ? { limit: flags.limit } : {}) });
    } else {
      requireCheckpointPath(flags.checkpoint as string);
      const backend = await useBackend(flags.backend, flags.json === true);
      const trained = loadTrainedModel(flags.checkpoint as string);
      Object.assign(source, { checkpoint: trained.dir, iteration: trained.config.iteration });
      result = await withCleanup(
        () =>
          evaluateModel(trained.model, trained.head, dataset, flags.split, {
            scales: flags.scales,
            flip: flags.flip === true,
            ...inferenceOptionsFromFlags(flags, backend.name),
            skipFailures: true,
            onSkip: (s) => process.stderr.write(`skipped ${printable(s.id)}: ${printable(s.error)}\n`),
            onProgress,
            ...(flags.limit !== undefined ? { limit: flags.limit } : {}),
          }),
        () => trained.model.dispose(),
      );
    }
    if (flags.json === true) {
      process.stdout.write(`${JSON.stringify(evaluationJson(result, source), null, 2)}\n`);
    } else {
      process.stdout.write(`${formatMetricsTable(result.metrics)}\n${result.images} images of '${flags.split}'\n`);
    }
    if (result.skipped.length > 0) {
      process.stderr.write(`${result.skipped.length} image${result.skipped.length === 1 ? '' : 's'} skipped (not scored): ${result.skipped.map((s) => printable(s.id)).join(', ')}\n`);
      process.exitCode = 1;
    }
  });
}
