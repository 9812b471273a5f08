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
import { PACKAGE_VERSION } from '../core/version.js';
import type { CheckpointIdentity } from '../checkpoint/checkpoint-identity.js';
import type { ShardSpec } from './shards.js';

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

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function listOf<T>(value: unknown, check: (item: Record<string, unknown>) => T | undefined): T[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const out: T[] = [];
  for (const item of value) {
    const ok = isRecord(item) ? check(item) : undefined;
    if (ok === undefined) return undefined;
    out.push(ok);
  }
  return out;
}

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
  if (!isRecord(value) || value['format'] !== PREDICT_MANIFEST_FORMAT)
    throw bad(`not a seg predict manifest (format "${PREDICT_MANIFEST_FORMAT}")`);
  const version = value['formatVersion'];
  if (!isCount(version) || version < 1 || version > PREDICT_MANIFEST_FORMAT_VERSION)
    throw bad(`format version ${JSON.stringify(version)} is not supported`);
  const c = value['checkpoint'];
  if (!isRecord(c) || typeof c['path'] !== 'string' || !isCount(c['iteration']) || typeof c['modelSha256'] !== 'string') {
    throw bad('"checkpoint" must be {path, iteration, modelSha256}');
  }
  const shard = value['shard'];
  if (!isRecord(shard) || !isCount(shard['index']) || !isCount(shard['count'])) throw bad('"shard" must be {index, count}');
  const settings = value['settings'];
  if (
    !isRecord(settings) ||
    !Array.isArray(settings['scales']) ||
    !settings['scales'].every((s) => typeof s === 'number') ||
    typeof settings['flip'] !== 'boolean' ||
    !(settings['padToStride'] === undefined || typeof settings['padToStride'] === 'boolean')
  ) {
    throw bad('"settings" must be {scales, flip, padToStride}');
  }
  const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  const done = listOf(value['done'], (d) => {
    const input = str(d['input']);
    const mask = str(d['mask']);
    const overlay = d['overlay'] === null ? null : str(d['overlay']);
    return input === undefined || mask === undefined || overlay === undefined ? undefined : { input, mask, overlay };
  });
  const failed = listOf(value['failed'], (f) => {
    const input = str(f['input']);
    const error = str(f['error']);
    return input === undefined || error === undefined ? undefined : { input, error };
  });
  const skipped = listOf(value['skipped'], (s) => {
    const input = str(s['input']);
    const reason = str(s['reason']);
    return input === undefined || reason === undefined ? undefined : { input, reason };
  });
  if (done === undefined || failed === undefined || skipped === undefined)
    throw bad('"done", "failed" and "skipped" must be lists of entries');
  const inputs = value['inputs'];
  const images = value['images'];
  if (!isCount(inputs) || !isCount(images)) throw bad('"inputs" and "images" must be integers >= 0');
  return {
    format: PREDICT_MANIFEST_FORMAT,
    formatVersion: version,
    checkpoint: { path: c['path'], iteration: c['iteration'], modelSha256: c['modelSha256'] },
    shard: { index: shard['index'], count: shard['count'] },
    settings: { scales: settings['scales'] as number[], flip: settings['flip'], padToStride: settings['padToStride'] ?? true },
    inputs,
    images,
    done,
    failed,
    skipped,
    complete: value['complete'] === true,
    packageVersion: str(value['packageVersion']) ?? 'unknown',
    updatedAt: str(value['updatedAt']) ?? '',
  };
}
