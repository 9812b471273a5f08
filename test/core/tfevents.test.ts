import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32c } from '@node-rs/crc32';
import { describe, expect, it } from 'vitest';
import { EVENT_FILE_VERSION, EventFileWriter, maskedCrc32c } from '../../src/core/tfevents.js';
import { readEventFile } from './fixtures/tfevents.js';

describe('maskedCrc32c', () => {
  it("is TFRecord's mask of CRC-32C (check value of '123456789': 0xe3069283)", () => {
    const data = new TextEncoder().encode('123456789');
    expect(crc32c(data) >>> 0).toBe(0xe3069283);
    const c = 0xe3069283;
    expect(maskedCrc32c(data)).toBe((((c >>> 15) | (c << 17)) + 0xa282ead8) >>> 0);
  });
});

describe('EventFileWriter', () => {
  it('writes events that an independent TFRecord + protobuf reader decodes, CRCs checked', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'seg-tfevents-')), 'tb');
    let t = 1_700_000_000.25;
    const writer = new EventFileWriter(dir, { now: () => (t += 1) });
    writer.scalars(10, { 'train/loss': 1.25, 'train/lr': 0.007, 'train/acc': Number.NaN });
    writer.scalars(20, { 'val/mIoU': 0.4321, 'val/IoU/background': 0.9 });
    writer.sessionStart(21);
    writer.scalars(3_000_000_000, { 'train/loss': 0.5 });
    expect(readdirSync(dir)).toEqual([expect.stringMatching(/^events\.out\.tfevents\.1700000001\..+\.\d+\.\d+$/)]);
    const events = readEventFile(writer.file);
    expect(events).toHaveLength(5);
    expect(events[0]).toMatchObject({ file_version: EVENT_FILE_VERSION, wall_time: 1_700_000_002.25 });
    expect(events[1]?.step).toBe(10);
    // NaN is left out; simple_value is a float32.
    expect(events[1]?.summary?.value).toEqual([
      expect.objectContaining({ tag: 'train/loss', simple_value: 1.25 }),
      expect.objectContaining({ tag: 'train/lr', simple_value: Math.fround(0.007) }),
    ]);
    expect(events[2]?.summary?.value.map((v) => [v.tag, v.simple_value])).toEqual([
      ['val/mIoU', Math.fround(0.4321)],
      ['val/IoU/background', Math.fround(0.9)],
    ]);
    expect(events[3]).toMatchObject({ step: 21, session_log: { status: 'START' } });
    expect(events[4]?.step).toBe(3_000_000_000);
  });

  it('never writes into a file it did not create, and names the folder on failure', () => {
    const base = mkdtempSync(join(tmpdir(), 'seg-tfevents-'));
    const notDir = join(base, 'file');
    writeFileSync(notDir, 'x');
    expect(() => new EventFileWriter(notDir)).toThrow(/could not write .*check --tensorboard/);
  });
});
