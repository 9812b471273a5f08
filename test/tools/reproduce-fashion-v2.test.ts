/**
 * tools/reproduce-fashion-v2.sh on tiny data: two workers share the runs (each trained once,
 * by one of them), a head's seed runs use the lr its grid selected, and the compare phase
 * sees every run; runs finished on an earlier machine (FINISHED_CSV) are not trained again.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTraceCsv, writeTraceCsv } from '../../src/experiments/trace-csv.js';
import { writeIdx } from '../../src/file-readers/idx-file.js';
import { removeTempDirs, tempDir } from '../datasets/fixtures.js';

/**
 * `npm test` runs the script on one head (3 runs); `npm run test:slow` (SEG_SLOW_TESTS=1) on two
 * (6 runs), and adds the FINISHED_CSV and stopped-worker cases.
 */
const FULL = process.env['SEG_SLOW_TESTS'] === '1';
const HEADS = FULL ? ['softmax', 'linear'] : ['softmax'];
const SCRIPT = resolve('tools/reproduce-fashion-v2.sh');
const CLI = resolve('dist/cli/main.js');
const hasFlock = spawnSync('flock', ['--version']).status === 0;

let out: string;
let env: NodeJS.ProcessEnv;

/** Tiny Fashion-MNIST-like IDX files: filled rectangles labelled with classes 0..9. */
function writeSource(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const rows = 10;
  const cols = 8;
  for (const [split, n] of [
    ['train', 20],
    ['t10k', 10],
  ] as const) {
    const images = new Uint8Array(n * rows * cols);
    for (let k = 0; k < n; k++) for (let p = cols; p < (rows - 1) * cols; p++) images[k * rows * cols + p] = 60 + ((k * 37) % 190);
    const labels = Uint8Array.from({ length: n }, (_, k) => k % 10);
    writeIdx(join(dir, `${split}-images-idx3-ubyte.gz`), { dims: [n, rows, cols], data: images });
    writeIdx(join(dir, `${split}-labels-idx1-ubyte.gz`), { dims: [n], data: labels });
  }
}

function runScript(phase: string, dir = out, runEnv = env): Promise<{ code: number; out: string; err: string }> {
  return new Promise((done) => {
    const child = spawn('bash', [SCRIPT, dir, phase], { env: runEnv });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => done({ code: code ?? -1, out: stdout, err: stderr }));
  });
}

function startRows(run: string): number {
  return readFileSync(join(run, 'trace.jsonl'), 'utf8')
    .split('\n')
    .filter((line) => line.includes('"type":"start"')).length;
}

beforeAll(() => {
  const root = tempDir('seg-reproduce-v2-');
  out = join(root, 'v2');
  const source = join(root, 'fmnist');
  writeSource(source);
  env = {
    ...process.env,
    SEG: `node ${CLI}`,
    SEG_BACKEND: 'wasm',
    FASHION_SOURCE: source,
    WIDTH: '0.125',
    CROP: '32',
    BATCH: '2',
    ITERS: '4',
    EVAL_EVERY: '2',
    LOG_EVERY: '1',
    TRAIN: '8',
    VAL: '4',
    LRS: '0.05,0.02',
    SEEDS: '1',
    HEADS: HEADS.join('|'),
    // A worker with nothing free looks again after 1 s, not 5 minutes.
    WAIT: '1',
  };
});
afterAll(removeTempDirs);

/** Waits until no process of group `pgid` is left; false after `timeoutMs`. */
async function groupGone(pgid: number, timeoutMs: number): Promise<boolean> {
  for (let waited = 0; waited < timeoutMs; waited += 100) {
    try {
      process.kill(-pgid, 0);
    } catch {
      return true; // ESRCH: the group is empty
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

// Each run is its own node process (tfjs and wasm loaded each time), and the workers check runs with
// one node process per look at the run list: on one head about 45 s on 2 loaded cores, on two (test:slow) about 70 s.
describe.skipIf(!hasFlock)('tools/reproduce-fashion-v2.sh', () => {
  it('two workers train every run once; seeds at the selected lr; compare sees them all', async () => {
    expect(existsSync(CLI), 'npm test builds dist/ first').toBe(true);
    const workers = await Promise.all([runScript('worker'), runScript('worker')]);
    for (const w of workers) {
      expect(w.code, w.err).toBe(0);
      expect(w.out).toMatch(/every run has finished/);
    }
    // The grid (2 lrs, seed 0) of each head, then seed 1 at the lr its grid selected.
    const grid = await runScript('grid');
    expect(grid.code, grid.err).toBe(0);
    const json = spawnSync('node', [CLI, 'compare', join(out, 'grid'), '--select', 'best-lr', '--json', '--no-charts'], {
      encoding: 'utf8',
      env,
    });
    const selected = new Map((JSON.parse(json.stdout) as { heads: { head: string; lr: number }[] }).heads.map((h) => [h.head, h.lr]));
    const expected = HEADS.flatMap((head) => [`${head}-lr0.05-s0`, `${head}-lr0.02-s0`, `${head}-lr${selected.get(head)}-s1`]);
    const runs = readdirSync(join(out, 'runs')).filter((name) => !name.endsWith('.claim') && name !== 'wall.tsv');
    expect(runs.sort()).toEqual([...expected].sort());
    // wall.tsv: one line per trained stretch (name, start, end in UTC, exit status), here one per run.
    const wall = readFileSync(join(out, 'runs', 'wall.tsv'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split('\t'));
    expect(wall.map((w) => w[0]).sort()).toEqual([...expected].sort());
    for (const [, started, ended, rc] of wall) {
      expect(started).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(Date.parse(ended as string)).toBeGreaterThanOrEqual(Date.parse(started as string));
      expect(rc).toBe('0');
    }
    for (const name of runs) {
      const run = join(out, 'runs', name, name);
      // One start row: one process trained the run from its start to its end.
      expect(startRows(run), name).toBe(1);
    }
    // A worker started again finds nothing to do.
    const again = await runScript('worker');
    expect(again.code, again.err).toBe(0);
    for (const name of runs) expect(startRows(join(out, 'runs', name, name)), name).toBe(1);

    const compare = await runScript('compare');
    expect(compare.code, compare.err).toBe(0);
    expect(compare.out).toMatch(/Target: 90\.0% of softmax's best/);
    const rows = readTraceCsv(join(out, 'all', 'trace.csv'));
    const keys = new Set(rows.map((r) => `${r.head} ${r.lr} ${r.seed}`));
    expect(keys.size).toBe(3 * HEADS.length);
    expect(Math.max(...rows.map((r) => r.iter))).toBe(4);
  }, 600_000);

  // About 23 s (a third of this file): in npm run test:slow only, which .ci/run also runs.
  it.runIf(FULL)(
    'FINISHED_CSV: runs finished on another machine are not trained again, and join every phase',
    async () => {
      // The first test's runs, as a committed trace.csv would keep them, less the last head's seed-1 run.
      const last = HEADS[HEADS.length - 1] as string;
      const all = readTraceCsv(join(out, 'all', 'trace.csv'));
      const lost = all.find((r) => r.head === last && r.seed === 1);
      expect(lost).toBeDefined();
      const kept = all.filter((r) => !(r.head === last && r.seed === 1));
      const keptCsv = join(out, '..', 'kept.csv');
      writeTraceCsv(keptCsv, kept);
      const moved = join(out, '..', 'moved');
      const movedEnv = { ...env, FINISHED_CSV: keptCsv };
      const worker = await runScript('worker', moved, movedEnv);
      expect(worker.code, worker.err).toBe(0);
      expect(worker.out).toMatch(/every run has finished/);
      // Only the run missing from the csv trained here, at the lr the kept grid selects.
      const trained = readdirSync(join(moved, 'runs')).filter((name) => !name.endsWith('.claim') && name !== 'wall.tsv');
      expect(trained).toEqual([`${last}-lr${lost?.lr}-s1`]);
      const compare = await runScript('compare', moved, movedEnv);
      expect(compare.code, compare.err).toBe(0);
      const rows = readTraceCsv(join(moved, 'all', 'trace.csv'));
      expect(new Set(rows.map((r) => `${r.head} ${r.lr} ${r.seed}`)).size).toBe(3 * HEADS.length);
      const key = (r: { head: string; lr: number | null; seed: number; iter: number }) => `${r.head} ${r.lr} ${r.seed} ${r.iter}`;
      const keptByKey = new Map(kept.map((r) => [key(r), r]));
      for (const r of rows.filter((r) => keptByKey.has(key(r)))) expect(r).toEqual(keptByKey.get(key(r)));
      // A missing file is a clear error before anything runs.
      const bad = await runScript('worker', join(out, '..', 'bad'), { ...env, FINISHED_CSV: join(out, '..', 'nope.csv') });
      expect(bad.code).toBe(2);
      expect(bad.err).toMatch(/FINISHED_CSV=.*nope\.csv: no such file/);
    },
    600_000,
  );

  it.runIf(FULL)('a stopped worker logs the stretch it trained as interrupted in wall.tsv, and the run keeps its checkpoint', async () => {
    const stopped = join(out, '..', 'stopped');
    // Long enough to be stopped mid-run; a checkpoint every 5 iterations.
    const longEnv = { ...env, ITERS: '100000', EVAL_EVERY: '5', HEADS: 'softmax', LRS: '0.05' };
    const child = spawn('bash', [SCRIPT, stopped, 'worker'], { env: longEnv, detached: true, stdio: 'ignore' });
    const name = 'softmax-lr0.05-s0';
    const checkpoint = join(stopped, 'runs', name, name, 'checkpoint');
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    for (let waited = 0; !existsSync(join(checkpoint, 'state.json')) && waited < 120_000; waited += 200) {
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(existsSync(checkpoint)).toBe(true);
    // The whole process group, as a terminal's Ctrl-C or a session's end would.
    process.kill(-(child.pid as number), 'SIGTERM');
    expect(await exited).toBe(143);
    // seg itself saves its checkpoint on SIGTERM and may outlive the script: wait for the whole
    // group, so nothing writes into the folder while the tests' temp folders are removed.
    expect(await groupGone(child.pid as number, 60_000)).toBe(true);
    const wall = readFileSync(join(stopped, 'runs', 'wall.tsv'), 'utf8')
      .trim()
      .split('\n');
    expect(wall).toHaveLength(1);
    expect(wall[0]).toMatch(new RegExp(`^${name}\\t\\S+Z\\t\\S+Z\\tinterrupted$`));
  });
});
