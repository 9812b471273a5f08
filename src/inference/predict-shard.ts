/**
 * One shard of a `seg predict` job array. Every file found under the inputs is listed once,
 * sorted by code units (the same on every machine), and the list is cut into shards; this
 * shard predicts the images of its share. Mask names and the never-overwrite-an-input rule
 * still see all inputs, so shards never write over each other's inputs or masks. Progress is
 * kept in the shard's manifest; a rerun skips images already done whose files still exist.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { SegError } from '../core/errors.js';
import { describeCheckpoint, sameCheckpoint, type CheckpointIdentity } from '../checkpoint/checkpoint-identity.js';
import type { Head } from '../heads/head.js';
import type { InferenceEngine } from './engines/engine.js';
import { IMAGE_EXTENSIONS, predictFiles, type PredictFilesOptions } from './predict-files.js';
import { planPredictOutputs, type PredictPlan } from './predict-paths.js';
import {
  predictManifestPath,
  readPredictManifest,
  writePredictManifest,
  type PredictDone,
  type PredictManifest,
} from './predict-manifest.js';
import { compareCodeUnits, formatShard, selectShard, type ShardSpec } from './shards.js';

export interface PredictShardOptions extends Omit<PredictFilesOptions, 'include' | 'onImage'> {
  shard: ShardSpec;
  checkpoint: CheckpointIdentity;
  /** Least time between two manifest writes while predicting (default 1000 ms); it is always written at the end. */
  manifestEveryMs?: number;
}

export interface PredictShardResult {
  manifestPath: string;
  manifest: PredictManifest;
  /** Files written by this run. */
  written: string[];
  /** Images done by an earlier run and skipped now. */
  resumed: number;
}

/** Every file of the plan once (images and non-images), sorted by code units. */
export function sortedInputs(plan: PredictPlan): { files: string[]; images: Set<string> } {
  const images = plan.images.map((i) => i.file);
  const files = [...new Set([...images, ...plan.skipped])].sort(compareCodeUnits);
  return { files, images: new Set(images) };
}

function predictSettings(options: PredictShardOptions): PredictManifest['settings'] {
  return { scales: [...(options.scales ?? [1])], flip: options.flip === true, padToStride: options.padToStride === true };
}

function sameSettings(a: PredictManifest['settings'], b: PredictManifest['settings']): boolean {
  return (
    a.flip === b.flip &&
    a.padToStride === b.padToStride &&
    a.scales.length === b.scales.length &&
    a.scales.every((s, i) => s === b.scales[i])
  );
}

/** Earlier run's done entries of this shard that can be kept, by resolved input path; refuses a manifest of another model or settings. */
function resumableDone(file: string, options: PredictShardOptions): Map<string, PredictDone> {
  const kept = new Map<string, PredictDone>();
  if (!existsSync(file)) return kept;
  const previous = readPredictManifest(file);
  const settings = predictSettings(options);
  if (previous.shard.index !== options.shard.index || previous.shard.count !== options.shard.count) {
    throw new SegError(
      `${file}: holds shard ${formatShard(previous.shard)}, not ${formatShard(options.shard)}; delete it or choose another --output`,
      file,
    );
  }
  if (!sameCheckpoint(previous.checkpoint, options.checkpoint)) {
    throw new SegError(
      `${file}: this shard was started with checkpoint ${describeCheckpoint(previous.checkpoint)}, not ${describeCheckpoint(options.checkpoint)}; ` +
        `choose another --output, or delete the manifest to predict the shard again`,
      file,
    );
  }
  if (!sameSettings(previous.settings, settings)) {
    throw new SegError(
      `${file}: this shard was started with --scales ${previous.settings.scales.join(',')}${previous.settings.flip ? ' --flip' : ''}` +
        `${previous.settings.padToStride ? ' --pad-to-stride' : ''}; ` +
        `rerun with the same settings, or delete the manifest to predict the shard again`,
      file,
    );
  }
  for (const d of previous.done) {
    const filesExist = existsSync(d.mask) && (options.overlay !== true || (d.overlay !== null && existsSync(d.overlay)));
    if (filesExist) kept.set(resolve(d.input), d);
  }
  return kept;
}

export async function predictShard(engine: InferenceEngine, head: Head, options: PredictShardOptions): Promise<PredictShardResult> {
  const log = options.log ?? (() => undefined);
  // One plan for all shards: mask names and input protection never depend on the shard.
  const plan = options.plan ?? planPredictOutputs(options.inputs, options.output);
  const { files, images } = sortedInputs(plan);
  const share = selectShard(files, options.shard);
  const shareImages = share.filter((f) => images.has(f));
  const skipped = share.filter((f) => !images.has(f)).map((input) => ({ input, reason: `not an image (${IMAGE_EXTENSIONS.join(', ')})` }));
  for (const s of skipped) log(`skipped ${s.input}: ${s.reason}`);
  mkdirSync(options.output, { recursive: true });
  const manifestPath = predictManifestPath(options.output, options.shard);
  const previous = resumableDone(manifestPath, options);

  const done: PredictDone[] = [];
  const todo = new Set<string>();
  for (const f of shareImages) {
    const earlier = previous.get(resolve(f));
    if (earlier !== undefined) done.push({ ...earlier, input: f });
    else todo.add(f);
  }
  const resumed = done.length;
  if (resumed > 0)
    log(`shard ${formatShard(options.shard)}: ${resumed} of ${shareImages.length} images already done (${manifestPath}); continuing`);
  // Unreadable entries (dangling links, loops) belong to no share: the first shard reports them.
  const failed: PredictManifest['failed'] =
    options.shard.index === 0 ? plan.problems.map((p) => ({ input: p.file, error: `${p.file}: ${p.problem}` })) : [];
  for (const f of failed) log(`failed ${f.error}`);
  const written: string[] = [];
  const save = (complete: boolean): void =>
    writePredictManifest(manifestPath, {
      checkpoint: options.checkpoint,
      shard: options.shard,
      settings: predictSettings(options),
      inputs: share.length,
      images: shareImages.length,
      done,
      failed,
      skipped,
      complete,
    });
  const every = options.manifestEveryMs ?? 1000;
  let lastSave = Date.now();
  save(todo.size === 0);
  options.onProgress?.(done.length, shareImages.length);
  try {
    await predictFiles(engine, head, {
      ...options,
      onProgress: undefined,
      plan: { ...plan, problems: [], ...(options.shard.index === 0 ? {} : { excluded: [] }) },
      include: (file) => todo.has(file),
      onImage: (file, outcome) => {
        if ('written' in outcome) {
          done.push({ input: file, mask: outcome.written[0] as string, overlay: outcome.written[1] ?? null });
          written.push(...outcome.written);
        } else {
          failed.push({ input: file, error: outcome.error });
        }
        options.onProgress?.(done.length + failed.length, shareImages.length);
        if (Date.now() - lastSave >= every) {
          save(false);
          lastSave = Date.now();
        }
      },
    });
  } catch (err) {
    save(false);
    throw err;
  }
  save(true);
  return { manifestPath, manifest: readPredictManifest(manifestPath), written, resumed };
}
