/** `seg eval`: mIoU of a checkpoint on a split, or of mask PNGs already written. */
import type { Command } from 'commander';
import { SegError } from '../core/errors.js';
import { formatMetricsTable } from '../metrics/metrics-format.js';
import { progressCallback } from '../core/progress.js';
import { evaluateModel, evaluatePredictions, type EvaluationResult } from '../inference/evaluate.js';
import { openDataset } from '../voc/dataset.js';
import { addBackendOption, parseFloatList, parseIntFlag, useBackend } from './options.js';
import { addEngineOptions, modelIdentityFromFlags, openPredictorFromFlags, type EngineFlags } from './engine-options.js';
import { resolve } from 'node:path';
import type { CheckpointIdentity } from '../checkpoint/checkpoint-identity.js';
import { evalCountsOf, evalShardIds, mergeEvalCounts, writeEvalCounts } from '../inference/eval-counts.js';
import { formatShard, type ShardSpec } from '../inference/shards.js';
import { addShardOptions, shardFromFlags, type ShardFlags } from './shard-options.js';

interface EvalFlags extends EngineFlags, ShardFlags {
  checkpoint?: string;
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
    .option('--data <dir>', 'dataset root in VOC layout (required unless --merge)')
    .option('--split <name>', 'split to score', 'val')
    .option('--scales <list>', 'comma-separated inference scales, e.g. 0.5,0.75,1,1.25,1.5,1.75', parseFloatList('--scales', 0.05, 8), [1])
    .option('--flip', 'also average the horizontally flipped image')
    .option('--limit <n>', 'only the first N ids of the split', parseIntFlag('--limit', 1))
    .option('--json', 'print {mIoU, aAcc, mAcc, fwIoU, images, classes: [{name, iou, acc, pixels}]}')
    .option('--save-counts <file>', 'also write the raw confusion matrix (with classes, checkpoint, split, shard) for --merge')
    .option('--merge <parts...>', 'sum the --save-counts files of all shards and report as one unsharded eval');
  addShardOptions(cmd);
  addEngineOptions(addBackendOption(cmd)).action(async (flags: EvalFlags) => {
    if (flags.merge !== undefined) {
      const clash = (['checkpoint', 'onnx', 'predictions', 'shard', 'shards', 'saveCounts'] as const).find((f) => flags[f] !== undefined);
      if (clash !== undefined) throw new SegError(`--merge: cannot be combined with --${clash.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}; the parts say what was evaluated`, '--merge');
      const merged = mergeEvalCounts(flags.merge);
      process.stdout.write(evaluationReport(merged, merged.split, flags.json === true));
      return;
    }
    if (flags.data === undefined) throw new SegError('seg eval: --data DIR is required (the dataset root in VOC layout)', '--data');
    if ((flags.checkpoint === undefined && flags.onnx === undefined) === (flags.predictions === undefined)) {
      throw new SegError('seg eval: pass exactly one of --checkpoint DIR or --onnx FILE (score a model) or --predictions DIR (score mask PNGs)', '--checkpoint');
    }
    const dataset = openDataset(flags.data);
    const shard = shardFromFlags(flags);
    const ids = evalShardIds(dataset, flags.split, flags.limit, shard);
    const onProgress = progressCallback('eval');
    let result: EvaluationResult;
    let identity: CheckpointIdentity | undefined;
    if (flags.predictions !== undefined) {
      result = await evaluatePredictions(flags.predictions, dataset, flags.split, { onProgress, ids: ids.mine, ...(flags.limit !== undefined ? { limit: flags.limit } : {}) });
    } else {
      const backend = await useBackend(flags.backend, flags.json === true);
      const trained = await openPredictorFromFlags(flags, backend, flags.json === true);
      try {
        result = await evaluateModel(trained.model, trained.head, dataset, flags.split, {
          scales: flags.scales,
          flip: flags.flip === true,
          onProgress,
          ids: ids.mine,
          ...(flags.limit !== undefined ? { limit: flags.limit } : {}),
        });
        if (flags.saveCounts !== undefined) identity = modelIdentityFromFlags(flags, '--save-counts');
      } finally {
        await trained.dispose();
      }
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
          settings: { scales: flags.scales, flip: flags.flip === true, limit: flags.limit ?? null },
          classNames: dataset.classNames,
        }),
      );
      process.stderr.write(`counts written to ${flags.saveCounts}\n`);
    }
    process.stdout.write(evaluationReport(result, flags.split, flags.json === true, shard));
  });
}

/** What seg eval prints: the JSON or the table; a shard's report says which shard it is. */
function evaluationReport(result: EvaluationResult, split: string, json: boolean, shard?: ShardSpec): string {
  if (json) return `${JSON.stringify({ ...evaluationJson(result), ...(shard !== undefined ? { shard } : {}) }, null, 2)}\n`;
  return `${formatMetricsTable(result.metrics)}\n${result.images} images of '${split}'${shard !== undefined ? ` (shard ${formatShard(shard)})` : ''}\n`;
}
