/** `seg eval`: mIoU of a checkpoint (or an exported model) on a split, of mask PNGs already written, or of merged shard counts. */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { SegError } from '../core/errors.js';
import { formatMetricsTable } from '../metrics/metrics-format.js';
import { progressCallback, windowProgressCallback } from '../core/progress.js';
import { evaluateModel, evaluatePredictions, type EvaluationResult } from '../inference/evaluate.js';
import { evalCountsOf, evalShardIds, mergeEvalCounts, writeEvalCounts, type MergedEvaluation } from '../inference/eval-counts.js';
import { formatShard, type ShardSpec } from '../inference/shards.js';
import { openDataset } from '../datasets/open-dataset.js';
import type { EvalSample } from '../data-loading/batch-loader.js';
import { prepareShowDir, writeShowImage } from '../inference/show-images.js';
import { withCleanup } from '../core/cleanup.js';
import { printable } from '../core/printable.js';
import { type LayoutFlags, layoutOption } from './layout-option.js';
import { addBackendOption, parseFloatList, parseIntFlag, useBackend } from './options.js';
import {
  addEngineOptions,
  checkpointSourceFromFlags,
  modelIdentityFromFlags,
  openPredictorFromFlags,
  type EngineFlags,
} from './engine-options.js';
import { addInferenceOptions, inferenceOptionsFromFlags, type InferenceFlags } from './inference-options.js';
import { checkpointFromFlag } from './weights-source.js';
import { checkpointPathFromFlags, describeCheckpoint } from './checkpoint-path.js';
import { addShardOptions, shardFromFlags, type ShardFlags } from './shard-options.js';

interface EvalFlags extends EngineFlags, ShardFlags, InferenceFlags, LayoutFlags {
  predictions?: string;
  data?: string;
  saveCounts?: string;
  merge?: string[];
  split: string;
  scales: number[];
  flip?: boolean;
  json?: boolean;
  limit?: number;
  miou?: boolean;
  best?: boolean;
  showDir?: string;
  backend?: string;
}

/** What was scored, for `--json`: the checkpoint (and its iteration), the ONNX file or the predictions folder, and the split. */
export interface EvaluationSource {
  checkpoint?: string;
  onnx?: string;
  predictions?: string;
  iteration?: number;
  split: string;
}

/** The JSON of `seg eval --json`: what was scored, summary metrics, image count, per-class rows (iou null for an empty union), skipped images. */
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
    ...(source.onnx !== undefined ? { onnx: source.onnx } : {}),
    ...(source.predictions !== undefined ? { predictions: source.predictions } : {}),
    split: source.split,
    ...(source.iteration !== undefined ? { iteration: source.iteration } : {}),
  };
}

/** The source of merged shard counts, as the unsharded run would have reported it. */
function mergedSource(merged: MergedEvaluation): EvaluationSource {
  const first = merged.parts[0]?.counts;
  const checkpoint = first?.checkpoint ?? null;
  return {
    split: merged.split,
    ...(checkpoint !== null ? { checkpoint: checkpoint.path, iteration: checkpoint.iteration } : {}),
    ...(first?.predictions !== null && first?.predictions !== undefined ? { predictions: first.predictions } : {}),
  };
}

/** What seg eval prints: the JSON or the table; a shard's report says which shard it is. */
function evaluationReport(result: EvaluationResult, source: EvaluationSource, json: boolean, shard?: ShardSpec): string {
  if (json) return `${JSON.stringify({ ...evaluationJson(result, source), ...(shard !== undefined ? { shard } : {}) }, null, 2)}\n`;
  return `${formatMetricsTable(result.metrics)}\n${result.images} images of '${source.split}'${shard !== undefined ? ` (shard ${formatShard(shard)})` : ''}\n`;
}

export function registerEvalCommand(program: Command): void {
  const cmd = program
    .command('eval')
    .description('score a checkpoint (or existing mask PNGs) on a split: per-class IoU, mIoU, pixel and class accuracy, fwIoU')
    .option('--miou', 'report mIoU and the per-class table (the default and only report)')
    .option(
      '--checkpoint <dir|name>',
      'run folder (its last checkpoint) or checkpoint folder written by seg train, or a weights name (torchvision:deeplabv3_resnet101)',
    )
    .option('--best', 'with a run folder: its best checkpoint (<run>/best, from seg train --save-best) instead of the last')
    .option('--predictions <dir>', 'score these masks instead: one <id>.png per id (palette or grayscale)')
    .option('--data <dir>', 'dataset root in VOC layout (required unless --merge)')
    .addOption(layoutOption())
    .option('--split <name>', 'split to score', 'val')
    .option('--scales <list>', 'comma-separated inference scales, e.g. 0.5,0.75,1,1.25,1.5,1.75', parseFloatList('--scales', 0.05, 8), [1])
    .option('--flip', 'also average the horizontally flipped image')
    .option('--limit <n>', 'only the first N ids of the split', parseIntFlag('--limit', 1))
    .option(
      '--json',
      'print {checkpoint, split, iteration, mIoU, aAcc, mAcc, fwIoU, images, classes: [{name, iou, acc, pixels}], skipped: [{id, error}]}',
    )
    .option('--show-dir <dir>', "write <id>.png per image: ground truth | prediction blended over it (as mmseg's --show-dir)")
    .option('--save-counts <file>', 'also write the raw confusion matrix (with classes, checkpoint, split, shard) for --merge')
    .option('--merge <parts...>', 'sum the --save-counts files of all shards and report as one unsharded eval');
  addShardOptions(cmd);
  addEngineOptions(addBackendOption(addInferenceOptions(cmd))).action(async (flags: EvalFlags) => {
    if (flags.merge !== undefined) {
      const clash = (['checkpoint', 'onnx', 'predictions', 'shard', 'shards', 'saveCounts'] as const).find((f) => flags[f] !== undefined);
      if (clash !== undefined)
        throw new SegError(
          `--merge: cannot be combined with --${clash.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}; the parts say what was evaluated`,
          '--merge',
        );
      const merged = mergeEvalCounts(flags.merge);
      process.stdout.write(evaluationReport(merged, mergedSource(merged), flags.json === true));
      return;
    }
    if (flags.data === undefined) throw new SegError('seg eval: --data DIR is required (the dataset root in VOC layout)', '--data');
    if ((flags.checkpoint === undefined && flags.onnx === undefined) === (flags.predictions === undefined)) {
      throw new SegError(
        'seg eval: pass exactly one of --checkpoint DIR or --onnx FILE (score a model) or --predictions DIR (score mask PNGs)',
        '--checkpoint',
      );
    }
    if (flags.best === true && flags.checkpoint === undefined) throw new SegError('--best: needs --checkpoint RUN', '--best');
    if (flags.checkpoint !== undefined)
      flags.checkpoint = checkpointPathFromFlags(await checkpointFromFlag(flags.checkpoint), flags.best === true);
    if (flags.showDir !== undefined && flags.predictions !== undefined) {
      throw new SegError("--show-dir: draws a model's predictions; use it with --checkpoint or --onnx, not --predictions", '--show-dir');
    }
    const dataset = openDataset(flags.data, flags.layout);
    if (flags.showDir !== undefined) prepareShowDir(flags.showDir);
    const showDir = flags.showDir;
    const shard = shardFromFlags(flags);
    const ids = evalShardIds(dataset, flags.split, flags.limit, shard);
    const identity =
      flags.saveCounts !== undefined && flags.predictions === undefined ? modelIdentityFromFlags(flags, '--save-counts') : undefined;
    const onProgress = progressCallback('eval');
    let result: EvaluationResult;
    let source: EvaluationSource = { split: flags.split };
    if (flags.predictions !== undefined) {
      source = { ...source, predictions: flags.predictions };
      result = await evaluatePredictions(flags.predictions, dataset, flags.split, {
        onProgress,
        ids: ids.mine,
        ...(flags.limit !== undefined ? { limit: flags.limit } : {}),
      });
    } else {
      source = { ...source, ...checkpointSourceFromFlags(flags) };
      if (flags.checkpoint !== undefined && flags.json !== true) process.stderr.write(`${describeCheckpoint(flags.checkpoint)}\n`);
      const backend = await useBackend(flags.backend, flags.json === true);
      const trained = await openPredictorFromFlags(flags, backend, flags.json === true);
      result = await withCleanup(
        () =>
          evaluateModel(trained.engine, trained.head, dataset, flags.split, {
            scales: flags.scales,
            flip: flags.flip === true,
            ...inferenceOptionsFromFlags(flags, trained.engine, backend.traits),
            skipFailures: true,
            onSkip: (s) => process.stderr.write(`skipped ${printable(s.id)}: ${printable(s.error)}\n`),
            windowProgress: windowProgressCallback('eval'),
            onProgress,
            ids: ids.mine,
            ...(flags.limit !== undefined ? { limit: flags.limit } : {}),
            ...(showDir !== undefined
              ? {
                  onPrediction: async (sample: EvalSample, mask: Uint8Array) => {
                    await writeShowImage(showDir, sample.id, { ...sample, rgb: sample.rgb, prediction: mask, palette: dataset.palette });
                  },
                }
              : {}),
          }),
        () => trained.dispose(),
      );
    }
    if (flags.saveCounts !== undefined) {
      writeEvalCounts(
        flags.saveCounts,
        evalCountsOf(result, {
          checkpoint: identity ?? null,
          predictions: flags.predictions !== undefined ? resolve(flags.predictions) : null,
          split: flags.split,
          splitIds: ids.all,
          shard,
          settings: {
            scales: flags.scales,
            flip: flags.flip === true,
            limit: flags.limit ?? null,
            padToStride: flags.padToStride === true,
          },
          classNames: dataset.classNames,
        }),
      );
      process.stderr.write(`counts written to ${flags.saveCounts}\n`);
    }
    process.stdout.write(evaluationReport(result, source, flags.json === true, shard));
    if (showDir !== undefined) process.stderr.write(`${result.images} pictures written to ${printable(showDir)}\n`);
    if (result.skipped.length > 0) {
      process.stderr.write(
        `${result.skipped.length} image${result.skipped.length === 1 ? '' : 's'} skipped (not scored): ${result.skipped.map((s) => printable(s.id)).join(', ')}\n`,
      );
      process.exitCode = 1;
    }
  });
}
