/** Ctrl-C, SIGTERM or SIGHUP during `seg train`: a checkpoint is saved and the process exits 128 + n (real process, real signal). */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { makeSynthDataset } from '../../src/dataset-makers/synth-dataset.js';
import { removeTempDirs, tempDir } from '../datasets/fixtures.js';

const cli = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

afterAll(removeTempDirs);

function traceRows(run: string): number {
  const file = join(run, 'trace.jsonl');
  if (!existsSync(file)) return 0;
  // Train rows only (one per iteration at --log-every 1); the start row says which backend ran.
  const rows = readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as { type: string; backend?: string });
  // Read while the first row is being appended: the file exists but is still empty.
  if (rows.length === 0) return 0;
  expect(rows[0]).toMatchObject({ type: 'start', backend: 'wasm' });
  return rows.filter((r) => r.type === 'train').length;
}

describe('seg train and SIGINT, SIGTERM, SIGHUP', () => {
  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const)('%s: saves a checkpoint at the current iteration and exits %i', async (signal, exitCode) => {
    expect(existsSync(cli), 'npm test builds dist/ first').toBe(true);
    const dir = tempDir('seg-sigint-');
    const data = (await makeSynthDataset({ out: join(dir, 'synth'), train: 6, val: 2, size: 40, seed: 1 })).root;
    const run = join(dir, 'run');
    const child = spawn(
      process.execPath,
      [
        cli,
        'train',
        '--data',
        data,
        '--backbone',
        'resnet18',
        '--width',
        '0.125',
        '--crop',
        '32',
        '--batch',
        '2',
        '--iters',
        '100000',
        '--log-every',
        '1',
        '--save-every',
        '0',
        '--out',
        run,
        '--backend',
        'wasm',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const deadline = Date.now() + 60_000;
    while (traceRows(run) < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(traceRows(run), stderr).toBeGreaterThanOrEqual(3);
    child.kill(signal);
    const code = await exited;
    expect(code, stderr).toBe(exitCode);
    expect(stderr).toContain(`interrupt (${signal}): saving a checkpoint`);
    const config = JSON.parse(readFileSync(join(run, 'checkpoint', 'config.json'), 'utf8')) as { iteration: number };
    expect(config.iteration).toBeGreaterThanOrEqual(3);
    expect(config.iteration).toBe(traceRows(run));
    expect(existsSync(join(run, '.lock')), 'the run folder is unlocked').toBe(false);
  });
});
