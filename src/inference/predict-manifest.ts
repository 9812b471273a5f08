/**
 * The manifest a sharded `seg predict` keeps in its output folder, one per shard
 * (`seg-predict-shard-<i>-of-<n>.json`): which inputs of the shard are done (with the files
 * written), which failed and which were skipped, for which checkpoint and settings. It is
 * rewritten atomically as the shard progresses, so a rerun can continue where a run stopped.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonAtomic } from '../core/durable-files.js';
import { SegError } from '../core/errors.js';
import { arrayOf, boolean, FieldError, integer, nullable, number, object, oneOf, parse, string, withDefault } from '../core/schema.js';
import { PACKAGE_VERSION } from '../core/version.js';
import type { CheckpointIdentity } from '../checkpoint/checkpoint-identity.js';
import type { ShardSpec } from './shards.js';
import { CHECKPOINT_IDENTITY, COUNT, SHARD_SPEC } from './part-schemas.js';

export const PREDICT_MANIFEST_FORMAT = 'seg-predict-shard';
export const PREDICT_MANIFEST_FORMAT_VERSION = 1;

/** Settings that change the masks: a rerun continues only with the same ones. */
export interface PredictSettings {
  scales: number[];
  flip: boolean;
  /** `--pad-to-stride`; manifests of seg versions before it lack the key and were padded. */
  padToStride: boolean;
}

export interface PredictDone {
  input: string;
  mask: string;
  /** The overlay JPEG, or null when none was asked for. */
  overlay: string | null;
}

export interface PredictManifest {
  format: typeof PREDICT_MANIFEST_FORMAT;
  formatVersion: number;
  checkpoint: CheckpointIdentity;
  shard: ShardSpec;
  settings: PredictSettings;
  /** Files in this shard's share of the sorted input list (images and others). */
  inputs: number;
  /** Images in the share. */
  images: number;
  done: PredictDone[];
  failed: { input: string; error: string }[];
  /** Files of the share that are not images. */
  skipped: { input: string; reason: string }[];
  /** True once every image of the share was predicted or failed. */
  complete: boolean;
  packageVersion: string;
  updatedAt: string;
}

export function predictManifestPath(output: string, shard: ShardSpec): string {
  return join(output, `${PREDICT_MANIFEST_FORMAT}-${shard.index}-of-${shard.count}.json`);
}

export function writePredictManifest(
  file: string,
  manifest: Omit<PredictManifest, 'format' | 'formatVersion' | 'packageVersion' | 'updatedAt'>,
): void {
  const full: PredictManifest = {
    format: PREDICT_MANIFEST_FORMAT,
    formatVersion: PREDICT_MANIFEST_FORMAT_VERSION,
    ...manifest,
    packageVersion: PACKAGE_VERSION,
    updatedAt: new Date().toISOString(),
  };
  writeJsonAtomic(file, full);
}

const SETTINGS = object<PredictSettings>({
  scales: arrayOf(number()),
  flip: boolean(),
  // Manifests of seg versions before --pad-to-stride lack the key and were padded.
  padToStride: withDefault(boolean(), true),
});

const PREDICT_MANIFEST = object<PredictManifest>({
  format: oneOf([PREDICT_MANIFEST_FORMAT]),
  formatVersion: integer({ min: 1, max: PREDICT_MANIFEST_FORMAT_VERSION }),
  checkpoint: CHECKPOINT_IDENTITY,
  shard: SHARD_SPEC,
  settings: SETTINGS,
  inputs: COUNT,
  images: COUNT,
  done: arrayOf(object<PredictDone>({ input: string(), mask: string(), overlay: nullable(string()) })),
  failed: arrayOf(object({ input: string(), error: string() })),
  skipped: arrayOf(object({ input: string(), reason: string() })),
  complete: withDefault(boolean(), false),
  packageVersion: withDefault(string(), 'unknown'),
  updatedAt: withDefault(string(), ''),
});

/** Read and check a manifest; a defect is a SegError naming the file. */
export function readPredictManifest(file: string): PredictManifest {
  const bad = (what: string): SegError =>
    new SegError(`${file}: ${what}; delete it to predict the whole shard again, or choose another --output`, file);
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw bad(`unreadable (${err instanceof Error ? err.message : String(err)})`);
  }
  try {
    return parse(PREDICT_MANIFEST, value);
  } catch (err) {
    if (err instanceof FieldError) throw bad(`${err.field}: ${err.problem}`);
    throw err;
  }
}
