/**
 * `--config FILE` for `seg train` and `seg trace`, as mmseg's `tools/train.py CONFIG
 * --cfg-options k=v`: the file sets the run's settings in sections, as a run's config.json
 * (`model: {backbone: resnet50}`, `optim: {lr: 0.01}`), or options by their camelCase names
 * (`crop`, `valSplit`, `warmupIters`); the flags typed on the command line override it. JSON, or YAML for
 * `.yaml`/`.yml`. A checkpoint's `config.json` works too: its `training` arguments are the
 * run's whole config, so `--config RUN/checkpoint/config.json --out NEW` trains the run again.
 * Each value goes through the same parser, choices and ranges as its flag; an unknown key is
 * an error naming the file and the closest known key.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Command, Option } from 'commander';
import { parse as parseYaml } from 'yaml';
import { SegError } from '../core/errors.js';
import { isPlainObject } from '../core/schema.js';
import { fieldAt, groupFields, TRAIN_GROUPS, trainFieldRow, type TrainGroup } from '../training/train-fields.js';
import { flagOf } from './field-flags.js';

/** Where a value of an option came from: typed, from a config file, or a default. */
export function isGiven(cmd: Command, name: string): boolean {
  const source = cmd.getOptionValueSource(name);
  return source === 'cli' || source === 'config';
}

/** Levenshtein distance (insertions, deletions, substitutions), case-insensitive. */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  let prev = Array.from({ length: t.length + 1 }, (_, j) => j);
  for (let i = 1; i <= s.length; i++) {
    const row = [i];
    for (let j = 1; j <= t.length; j++) {
      row[j] = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + (s[i - 1] === t[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[t.length] as number;
}

/** The known key nearest to `key` (snake_case and kebab-case are compared as camelCase). */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  const camel = key.replace(/[-_]([a-z])/g, (_m, c: string) => c.toUpperCase());
  let best: string | undefined;
  let distance = Number.POSITIVE_INFINITY;
  for (const k of known) {
    const d = editDistance(camel, k);
    if (d < distance) [best, distance] = [k, d];
  }
  return best;
}

/** The settings of a config file: JSON or YAML; a seg checkpoint's config.json gives its `training`. */
export function readConfigFile(file: string): Record<string, unknown> {
  if (!existsSync(file)) throw new SegError(`--config ${file}: no such file`, '--config');
  const text = readFileSync(file, 'utf8');
  let value: unknown;
  try {
    value = /\.ya?ml$/i.test(file) ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    const kind = /\.ya?ml$/i.test(file) ? 'YAML' : 'JSON';
    throw new SegError(`--config ${file}: not valid ${kind} (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`, file);
  }
  if (!isPlainObject(value)) throw new SegError(`--config ${file}: expected an object of settings (key: value)`, file);
  if (value['format'] === 'seg-checkpoint') {
    const training = value['training'];
    if (!isPlainObject(training) || Object.keys(training).length === 0) {
      throw new SegError(`--config ${file}: this checkpoint records no training arguments to train with`, file);
    }
    return { ...training };
  }
  return value;
}

/**
 * Settings with the run's sections (`model:`, `data:`, `optim:`, `schedule:`, `run:`, as a
 * config.json's `training` and mmseg's configs) under their flat names (`optim.lr` -> `lr`,
 * `data.root` -> `data`); top-level keys stay as they are.
 */
export function flattenSections(settings: Readonly<Record<string, unknown>>, file: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const from = new Map<string, string>();
  const put = (name: string, value: unknown, where: string): void => {
    const before = from.get(name);
    if (before !== undefined)
      throw new SegError(`${file}: '${where}' and '${before}' set the same option (${flagOf(name)}); keep one`, file);
    from.set(name, where);
    out[name] = value;
  };
  for (const [key, value] of Object.entries(settings)) {
    if (!(TRAIN_GROUPS as readonly string[]).includes(key) || !isPlainObject(value)) {
      put(key, value, key);
      continue;
    }
    const keys = groupFields(key as TrainGroup).map((f) => trainFieldRow(f).key);
    for (const [inner, v] of Object.entries(value)) {
      const name = fieldAt(key, inner);
      if (name === undefined) {
        const near = closestKey(inner, keys);
        throw new SegError(
          `${file}: unknown key '${key}.${inner}'${near !== undefined ? `; did you mean '${key}.${near}'?` : ''} (the keys of '${key}': ${keys.join(', ')})`,
          file,
        );
      }
      put(name, v, `${key}.${inner}`);
    }
  }
  return out;
}

/** A file value as the text its flag would take (lists joined with commas, as --heads 0,1 and --lrs). */
function asFlagText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'string' || typeof v === 'number')) {
    return value.map(String).join(',');
  }
  return undefined;
}

function optionValue(option: Option, key: string, value: unknown, file: string): unknown {
  const where = `${file}: ${key}`;
  if (option.isBoolean()) {
    if (typeof value !== 'boolean') throw new SegError(`${where}: got ${JSON.stringify(value)}, expected true or false`, file);
    return value;
  }
  const text = asFlagText(value);
  if (text === undefined) throw new SegError(`${where}: got ${JSON.stringify(value)}, expected a string or a number`, file);
  if (option.argChoices !== undefined && !option.argChoices.includes(text)) {
    throw new SegError(`${where}: got ${JSON.stringify(value)}, expected one of ${option.argChoices.join(', ')}`, file);
  }
  if (option.parseArg === undefined) return text;
  try {
    return option.parseArg(text, undefined);
  } catch (err) {
    if (err instanceof SegError) throw new SegError(`${where}: ${err.message.replace(/^--[\w-]+: /, '')}`, file);
    throw err;
  }
}

export interface ApplyConfigOptions {
  /** Options a file may not set (e.g. config, printConfig, resume). */
  exclude: readonly string[];
  /** Rename or drop keys before they are matched (e.g. a run's `head` as a trace's `heads`). */
  translate?: (settings: Record<string, unknown>) => Record<string, unknown>;
}

/** Set every option the file names and the command line did not; returns the keys applied. */
export function applyConfigFile(cmd: Command, file: string, options: ApplyConfigOptions): string[] {
  const raw = flattenSections(readConfigFile(file), file);
  const settings = options.translate?.(raw) ?? raw;
  const byName = new Map(cmd.options.map((o) => [o.attributeName(), o]));
  for (const name of options.exclude) byName.delete(name);
  byName.delete('help');
  const known = [...byName.keys()];
  const applied: string[] = [];
  for (const [key, value] of Object.entries(settings)) {
    const option = byName.get(key);
    if (option === undefined) {
      const near = closestKey(key, known);
      throw new SegError(
        `${file}: unknown key '${key}'${near !== undefined ? `; did you mean '${near}' (${flagOf(near)})?` : ''} ` +
          `(keys are the options' camelCase names: ${known.join(', ')})`,
        file,
      );
    }
    if (cmd.getOptionValueSource(key) === 'cli') continue; // the flag wins
    if (value === null || value === undefined) continue;
    cmd.setOptionValueWithSource(key, optionValue(option, key, value, file), 'config');
    applied.push(key);
  }
  return applied;
}
