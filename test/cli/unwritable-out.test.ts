/** train, trace, data synth and predict with an --out/--output that cannot be created: one clear error, exit 1, nothing else. */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSynthDataset } from '../../src/dataset-makers/synth-dataset.js';
import { removeTempDirs, tempDir } from '../datasets/fixtures.js';
import { runSeg } from './run-cli.js';

const small = ['--backbone', 'resnet18', '--width', '0.125', '--crop', '32', '--batch', '2', '--iters', '1', '--backend', 'wasm'];
let dir: string;
let data: string;
let immutable: string | undefined;

beforeAll(async () => {
  dir = tempDir('seg-unwritable-');
  data = (await makeSynthDataset({ out: join(dir, 'synth'), train: 2, val: 1, size: 32, seed: 1 })).root;
  writeFileSync(join(dir, 'a-file'), 'x');
  const folder = join(dir, 'immutable');
  mkdirSync(folder);
  if (spawnSync('chattr', ['+i', folder]).status === 0) immutable = folder;
  else console.warn('chattr +i is not available here: the EPERM cases are skipped');
});
afterAll(() => {
  if (immutable !== undefined) execFileSync('chattr', ['-i', immutable]);
  removeTempDirs();
});

const COMMANDS = ['train', 'trace', 'data synth'] as const;

function command(name: (typeof COMMANDS)[number], out: string): string[] {
  if (name === 'train') return ['train', '--data', data, ...small, '--out', out];
  if (name === 'trace') return ['trace', '--data', data, '--heads', 'softmax', ...small, '--out', out];
  return ['data', 'synth', '--train', '1', '--val', '1', '--size', '16', '--out', out];
}

describe('an --out that cannot be created', () => {
  it.each(COMMANDS)('%s under a file: exit 1, the folder and the reason named', async (name) => {
    const r = await runSeg(command(name, join(dir, 'a-file', 'run')));
    expect(r.code, r.err).toBe(1);
    expect(r.err).toMatch(/error: --out .*a-file\/run: cannot create the folder: .*a-file is a file, not a folder; choose another --out/);
    expect(r.err).not.toContain('internal error');
  });

  it.each(COMMANDS)('%s under a chattr +i folder (EPERM): exit 1', async (name) => {
    if (immutable === undefined) return;
    const r = await runSeg(command(name, join(immutable, 'run')));
    expect(r.code, r.err).toBe(1);
    expect(r.err).toMatch(/error: --out .*immutable\/run: cannot create the folder .*\(permission denied\)/);
  });
});
