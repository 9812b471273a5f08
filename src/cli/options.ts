/** Option parsers and shared flags for the commands; every flag is validated once, here. */
import { type Command, Option } from 'commander';
import { SegError } from '../core/errors.js';
import {
  BACKEND_CHOICES,
  describeSelection,
  resolveBackendChoice,
  selectBackend,
  type BackendSelection,
} from '../backend/select-backend.js';

export function parseIntFlag(flag: string, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer in ${min}..${max}`;
      throw new SegError(`${flag}: got '${value}', expected ${range}`, flag);
    }
    return n;
  };
}

export function parseFloatFlag(flag: string, min = -Infinity, max = Infinity): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
      throw new SegError(`${flag}: got '${value}', expected a number in [${min}, ${max}]`, flag);
    }
    return n;
  };
}

/** Comma-separated numbers, e.g. --scales 0.5,0.75,1. */
export function parseFloatList(flag: string, min = -Infinity, max = Infinity): (value: string) => number[] {
  const one = parseFloatFlag(flag, min, max);
  return (value: string) => value.split(',').map((part) => one(part.trim()));
}

/** Adds `--backend auto|tensorflow|wasm|cpu` (default: SEG_BACKEND, else auto). */
export function addBackendOption(cmd: Command): Command {
  return cmd.addOption(new Option('--backend <name>', 'compute backend (default: $SEG_BACKEND, else auto)').choices([...BACKEND_CHOICES]));
}

/** Adds `--no-capture` (train, trace, bench train); SEG_CAPTURE=0 in the environment does the same. */
export function addCaptureOption(cmd: Command): Command {
  return cmd.option(
    '--no-capture',
    'webgpu: run every training step through tfjs instead of replaying a captured step (same results; also SEG_CAPTURE=0)',
  );
}

/** Whether to capture steps: --no-capture turns it off, else SEG_CAPTURE (0/1, default 1). */
export function captureEnabled(flag: boolean | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
  if (flag === false) return false;
  const value = (env['SEG_CAPTURE'] ?? '').trim().toLowerCase();
  if (value === '' || value === '1' || value === 'true' || value === 'on') return true;
  if (value === '0' || value === 'false' || value === 'off') return false;
  throw new SegError(`SEG_CAPTURE: got '${env['SEG_CAPTURE']}', expected 0 or 1`, 'SEG_CAPTURE');
}

/** Select the backend from the flag/env and say which one runs, on stderr. */
export async function useBackend(flag: string | undefined, quiet = false): Promise<BackendSelection> {
  const selection = await selectBackend(resolveBackendChoice(flag));
  if (!quiet) process.stderr.write(`${describeSelection(selection)}\n`);
  return selection;
}
