import { rmSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli } from '../../src/cli/program.js';

let base: string;

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'seg-data-cli-'));
});

afterAll(() => rmSync(base, { recursive: true, force: true }));

afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
});

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((out += String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((err += String(chunk)), true));
  const code = await runCli(['node', 'seg', ...args]);
  vi.restoreAllMocks();
  process.exitCode = undefined;
  return { code, out, err };
}

describe('seg data', () => {
  it('synth writes a dataset that check passes (exit 0), JSON in the documented shape', async () => {
    const out = join(base, 'synth');
    const made = await run('data', 'synth', '--out', out, '--train', '4', '--val', '2', '--size', '32', '--seed', '1');
    expect(made.code).toBe(0);
    expect(made.out).toMatch(/train 4, val 2, trainval 6; 6 classes/);
    const check = await run('data', 'check', '--data', out, '--split', 'trainval', '--json');
    expect(check.code).toBe(0);
    const report = JSON.parse(check.out) as {
      images: number;
      classes: { name: string; pixels: number; images: number }[];
      void_pixels: number;
      problems: unknown[];
    };
    expect(report.images).toBe(6);
    expect(report.classes.map((c) => c.name)).toEqual(['background', 'disc', 'square', 'triangle', 'ring', 'cross']);
    expect(report.classes.reduce((a, c) => a + c.pixels, 0) + report.void_pixels).toBe(6 * 32 * 32);
    expect(report.problems).toEqual([]);
  });

  it('check --layout opens --data in the named layout; a layout the folder is not in, or an unknown one, is refused', async () => {
    const out = join(base, 'layouts');
    expect((await run('data', 'synth', '--out', out, '--train', '2', '--val', '0', '--size', '16')).code).toBe(0);
    const auto = await run('data', 'check', '--data', out, '--json');
    const named = await run('data', 'check', '--data', out, '--layout', 'classes-txt', '--json');
    expect(named.code).toBe(0);
    expect(named.out).toBe(auto.out);
    const sbd = await run('data', 'check', '--data', out, '--layout', 'sbd');
    expect(sbd.code).toBe(1);
    expect(sbd.err).toMatch(/no SegmentationClassAug\/ folder/);
    const unknown = await run('data', 'check', '--data', out, '--layout', 'cityscapes');
    expect(unknown.code).not.toBe(0);
    expect(unknown.err).toMatch(/--layout.*'cityscapes'.*auto, voc, sbd, classes-txt/s);
  });

  it('check exits 1 and lists the problems', async () => {
    const out = join(base, 'broken');
    expect((await run('data', 'synth', '--out', out, '--train', '3', '--val', '0', '--size', '16')).code).toBe(0);
    writeFileSync(join(out, 'JPEGImages', 'train_00001.jpg'), 'not a jpeg');
    const check = await run('data', 'check', '--data', out);
    expect(check.code).toBe(1);
    expect(check.out).toMatch(/1 problem:\n {2}train_00001: .*train_00001\.jpg: cannot decode image/);
  });

  it('user mistakes are one-line errors with exit 1', async () => {
    const bad = await run('data', 'synth', '--out', join(base, 'x'), '--train', 'many');
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/--train: got 'many'/);
    const fashion = await run('data', 'fashion', '--out', join(base, 'f'), '--source', join(base, 'nothing'));
    expect(fashion.code).toBe(1);
    expect(fashion.err).toMatch(/^error: Fashion-MNIST not found.*apt-get install dataset-fashion-mnist/);
  });
});
