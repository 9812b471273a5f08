import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readTrace, TraceWriter } from '../../src/training/run-log.js';
import { removeTempDirs, tempDir } from '../datasets/fixtures.js';

afterAll(removeTempDirs);

const legacy = [
  { type: 'train', iter: 1, wall_s: 0.5, loss: 2, lr: 0.01, train_acc: 0.25 },
  { type: 'eval', iter: 1, wall_s: 0.6, val_miou: 0.125, val_aacc: 0.5, class_iou: { background: 0.25, cat: null }, images: 2 },
  { type: 'train', iter: 2, wall_s: 1, loss: 1.5, lr: 0.005, train_acc: 0.5 },
];

describe('trace.jsonl', () => {
  it('reads traces of older runs (snake_case keys) as camelCase rows', () => {
    const dir = tempDir('seg-trace-');
    writeFileSync(join(dir, 'trace.jsonl'), legacy.map((r) => JSON.stringify(r)).join('\n') + '\n');
    expect(readTrace(dir)).toEqual([
      { type: 'train', iter: 1, wallSeconds: 0.5, loss: 2, lr: 0.01, trainAcc: 0.25 },
      { type: 'eval', iter: 1, wallSeconds: 0.6, mIoU: 0.125, aAcc: 0.5, classIoU: { background: 0.25, cat: null }, images: 2 },
      { type: 'train', iter: 2, wallSeconds: 1, loss: 1.5, lr: 0.005, trainAcc: 0.5 },
    ]);
  });

  it('on resume keeps rows up to the checkpoint, rewritten in camelCase, and appends after them', () => {
    const dir = tempDir('seg-trace-');
    writeFileSync(join(dir, 'trace.jsonl'), legacy.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const writer = new TraceWriter(dir, 1);
    writer.append({ type: 'train', iter: 2, wallSeconds: 1.1, loss: 1, lr: 0.004, trainAcc: 0.75 });
    const text = readFileSync(join(dir, 'trace.jsonl'), 'utf8');
    expect(text).not.toMatch(/_/);
    expect(readTrace(dir).map((r) => `${r.type}@${r.iter}`)).toEqual(['train@1', 'eval@1', 'train@2']);
  });

  it('skips a cut last line but refuses damage before it', () => {
    const dir = tempDir('seg-trace-');
    writeFileSync(join(dir, 'trace.jsonl'), `${JSON.stringify(legacy[0])}\n{"type":"tr`);
    expect(readTrace(dir)).toHaveLength(1);
    writeFileSync(join(dir, 'trace.jsonl'), `{"type":"tr\n${JSON.stringify(legacy[0])}\n${JSON.stringify(legacy[2])}\n`);
    expect(() => readTrace(dir)).toThrow(/line 1 is not JSON/);
  });

  it('checks every field of a row; null (a NaN written as JSON) reads back as NaN; unknown row types are skipped', () => {
    const dir = tempDir('seg-trace-');
    const rows = [
      { type: 'train', iter: 1, wallSeconds: 0.5, loss: 2, lr: 0.01, trainAcc: null },
      { type: 'note', iter: 1, text: 'from a later version' },
      { type: 'train', iter: 2, wallSeconds: 1, loss: 1, lr: 0.01, trainAcc: 0.5 },
    ];
    writeFileSync(join(dir, 'trace.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const read = readTrace(dir);
    expect(read.map((r) => r.iter)).toEqual([1, 2]);
    expect(read[0]?.type === 'train' && Number.isNaN(read[0].trainAcc)).toBe(true);
    writeFileSync(join(dir, 'trace.jsonl'), [{ ...rows[0], iter: -1 }, rows[2]].map((r) => JSON.stringify(r)).join('\n') + '\n');
    expect(() => readTrace(dir)).toThrow(/line 1 is not a trace row \(iter: got -1, expected an integer >= 0\)/);
  });
});
