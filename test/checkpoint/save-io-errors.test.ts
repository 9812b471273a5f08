/** I/O errors in the middle of a checkpoint save (EIO on fsync, EXDEV on rename, ENOSPC on write), injected into node:fs. */
import * as realFs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

type Failure = { op: 'fsyncSync' | 'renameSync' | 'writeSync'; code: string; match: (arg: unknown) => boolean } | undefined;
const inject: { failure: Failure } = { failure: undefined };

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const fail = (op: NonNullable<Failure>['op'], arg: unknown): void => {
    const f = inject.failure;
    if (f !== undefined && f.op === op && f.match(arg)) {
      inject.failure = undefined;
      throw Object.assign(new Error(`${f.code}: injected, ${op}`), { code: f.code, path: typeof arg === 'string' ? arg : undefined });
    }
  };
  return {
    ...fs,
    fsyncSync: (fd: number) => {
      fail('fsyncSync', fd);
      fs.fsyncSync(fd);
    },
    renameSync: (from: string, to: string) => {
      fail('renameSync', from);
      fs.renameSync(from, to);
    },
    writeSync: ((fd: number, ...rest: unknown[]) => {
      fail('writeSync', fd);
      return (fs.writeSync as (...a: unknown[]) => number)(fd, ...rest);
    }) as typeof fs.writeSync,
  };
});

const { tf } = await import('../../src/engine/tf.js');
const { SegError } = await import('../../src/core/errors.js');
const { loadCheckpoint, saveCheckpoint } = await import('../../src/checkpoint/checkpoint.js');
const { createModel } = await import('../../src/segmentation/model.js');
const { parseHeadSpec } = await import('../../src/heads/head-spec.js');
const { IMAGENET_NORMALIZATION } = await import('../../src/data-loading/normalize.js');

let tmp: string;

beforeAll(async () => {
  await tf.setBackend('cpu');
  tmp = realFs.mkdtempSync(path.join((await import('node:os')).tmpdir(), 'seg-save-io-'));
});

afterAll(() => realFs.rmSync(tmp, { recursive: true, force: true }));

describe('I/O errors during a checkpoint save', () => {
  it.each([
    ['EIO on fsync', { op: 'fsyncSync', code: 'EIO', match: () => true }, /model\.safetensors: could not write \(input\/output error/],
    [
      'ENOSPC on write',
      { op: 'writeSync', code: 'ENOSPC', match: () => true },
      /model\.safetensors: could not write \(no space left on the device\)/,
    ],
    [
      'EXDEV on the final rename',
      { op: 'renameSync', code: 'EXDEV', match: (from: unknown) => String(from).includes('.partial-') && !String(from).includes('.tmp-') },
      /could not write \(cannot rename across file systems\)/,
    ],
  ] as const)('%s: a SegError naming the file; the previous checkpoint loads unchanged', async (_name, failure, message) => {
    const model = createModel({ backbone: 'resnet18', outputStride: 16, width: 0.0625, numClasses: 3, multiGrid: false }, 1);
    const dir = path.join(tmp, `ckpt-${failure.code}`);
    const base = { model, head: parseHeadSpec('softmax', 3), classNames: ['a', 'b', 'c'], normalization: IMAGENET_NORMALIZATION };
    await saveCheckpoint(dir, { ...base, iteration: 1 });
    inject.failure = failure as Failure;
    let error: unknown;
    try {
      await saveCheckpoint(dir, { ...base, iteration: 2 });
    } catch (err) {
      error = err;
    }
    inject.failure = undefined;
    expect(error).toBeInstanceOf(SegError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).toMatch(
      new RegExp(`the checkpoint was not saved; the previous checkpoint in ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is intact`),
    );
    const loaded = loadCheckpoint(dir, { optimizer: false });
    expect(loaded.config.iteration).toBe(1);
    loaded.model.dispose();
    model.dispose();
    expect(realFs.readdirSync(tmp).filter((f) => f.includes('.partial-'))).toEqual([]);
  });
});
