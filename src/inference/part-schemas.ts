/** Schemas shared by the files shards write (eval counts, predict manifests): the checkpoint scored and the shard. */
import type { CheckpointIdentity } from '../checkpoint/checkpoint-identity.js';
import { FieldError, fieldPath, integer, matching, object, string } from '../core/schema.js';
import type { ShardSpec } from './shards.js';

export const COUNT = integer({ min: 0 });

export const SHA256 = matching(/^[0-9a-f]{64}$/, 'a SHA-256 hex digest');

export const CHECKPOINT_IDENTITY = object<CheckpointIdentity>({ path: string(), iteration: COUNT, modelSha256: SHA256 });

export const SHARD_SPEC = object<ShardSpec>({ index: COUNT, count: integer({ min: 1 }) }, (s, field) => {
  if (s.index >= s.count) throw new FieldError(fieldPath(field, 'index'), `got ${s.index}, expected 0 <= index < count (${s.count})`);
});
