#!/usr/bin/env node
// Runs a command (the test runner) with Mesa's software Vulkan driver (lavapipe) set up, so
// that the webgpu backend's tests run for real on a machine without a GPU. The driver is
// fetched once into .cache/lavapipe (git-ignored, about 11 MB from Debian) by lavapipe.sh.
// VK_DRIVER_FILES and LD_LIBRARY_PATH must be set before Node starts, hence this wrapper.
// Where lavapipe cannot be had (not Linux x64, no apt, no network), the command still runs:
// SEG_LAVAPIPE_UNAVAILABLE says why, and the webgpu tests skip with that reason.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const [command, ...args] = process.argv.slice(2);
if (command === undefined) {
  console.error('usage: node scripts/with-lavapipe.mjs <command> [args...]');
  process.exit(2);
}

function setUpLavapipe() {
  if (process.env.VK_DRIVER_FILES) return { env: {} };
  if (process.env.SEG_NO_LAVAPIPE) return { why: 'SEG_NO_LAVAPIPE is set' };
  if (process.platform !== 'linux' || process.arch !== 'x64')
    return { why: `lavapipe from Debian needs linux-x64, this is ${process.platform}-${process.arch}` };
  const script = path.join(root, 'scripts', 'lavapipe.sh');
  const run = spawnSync('bash', [script, path.join(root, '.cache', 'lavapipe')], { encoding: 'utf8', timeout: 300_000 });
  if (run.status !== 0) {
    const last =
      (run.stderr || String(run.error ?? ''))
        .trim()
        .split('\n')
        .filter((l) => !l.startsWith('W:'))
        .pop() ?? '';
    return { why: `scripts/lavapipe.sh could not set up lavapipe (${last || `exit ${run.status}`})` };
  }
  const env = {};
  for (const line of run.stdout.split('\n')) {
    const m = /^export (\w+)=(.*)$/.exec(line.trim());
    if (m === null) continue;
    const [, key, value] = m;
    env[key] = value.replace(
      /\$\{LD_LIBRARY_PATH:\+:\$LD_LIBRARY_PATH\}$/,
      process.env.LD_LIBRARY_PATH ? `:${process.env.LD_LIBRARY_PATH}` : '',
    );
  }
  if (!env.VK_DRIVER_FILES) return { why: 'scripts/lavapipe.sh printed no VK_DRIVER_FILES' };
  return { env };
}

const started = Date.now();
const { env, why } = setUpLavapipe();
if (why !== undefined) console.log(`webgpu tests will be skipped: ${why}`);
else if (Object.keys(env).length > 0)
  console.log(`lavapipe (software Vulkan) ready for the webgpu tests in ${((Date.now() - started) / 1000).toFixed(1)} s`);
const result = spawnSync(command, args, {
  stdio: 'inherit',
  env: { ...process.env, ...(env ?? {}), ...(why !== undefined ? { SEG_LAVAPIPE_UNAVAILABLE: why } : {}) },
  shell: process.platform === 'win32',
});
process.exit(result.status ?? 1);
