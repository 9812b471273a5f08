/**
 * A tiny typed schema layer: one check per field, errors that name the field (`batch`,
 * `training.lr`) and, for values read from disk, the file. Schemas parse `unknown` into a
 * typed value; nothing read from a file is cast. The CLI maps field names to its flags.
 */
import { SegError } from './errors.js';

/**
 * A value that breaks a rule. `field` is the field's path (`batch`, `training.lr`); `file`
 * the JSON file it came from, if any. Other fields a problem mentions are written in
 * backticks (`freezeBn`), so a front end can rename them too.
 */
export class FieldError extends SegError {
  readonly field: string;
  readonly problem: string;
  readonly file: string | undefined;

  constructor(field: string, problem: string, file?: string) {
    super(file === undefined ? `${field}: ${problem}` : `${file}: ${field}: ${problem}`, file ?? field);
    this.name = 'FieldError';
    this.field = field;
    this.problem = problem;
    this.file = file;
  }
}

/** Parses `value` found at `field` into a T, or throws a FieldError naming the field. */
export type Schema<T> = (value: unknown, field: string) => T;

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === undefined) return 'nothing';
  return typeof value === 'object' && value !== null ? (Array.isArray(value) ? 'a list' : 'an object') : String(value);
}

function got(value: unknown, expected: string): string {
  return `got ${show(value)}, expected ${expected}`;
}

interface Range {
  min?: number;
  max?: number;
  /** Strict lower bound. */
  above?: number;
}

function rangeText(kind: string, r: Range): string {
  const parts: string[] = [];
  if (r.above !== undefined) parts.push(`> ${r.above}`);
  if (r.min !== undefined && r.max !== undefined) return `${kind} in [${r.min}, ${r.max}]`;
  if (r.min !== undefined) parts.push(`>= ${r.min}`);
  if (r.max !== undefined) parts.push(`<= ${r.max}`);
  return parts.length === 0 ? kind : `${kind} ${parts.join(' and ')}`;
}

function inRange(n: number, r: Range): boolean {
  return (r.min === undefined || n >= r.min) && (r.max === undefined || n <= r.max) && (r.above === undefined || n > r.above);
}

/** A finite number within the range. */
export function number(range: Range = {}): Schema<number> {
  return (v, field) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || !inRange(v, range))
      throw new FieldError(field, got(v, rangeText('a number', range)));
    return v;
  };
}

/** A safe integer (|n| < 2^53) within the range. */
export function integer(range: Range = {}): Schema<number> {
  const text = rangeText('an integer', range);
  return (v, field) => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || !inRange(v, range)) {
      throw new FieldError(field, got(v, Number.isInteger(v) && !Number.isSafeInteger(v) ? `${text}, at most 2^53 - 1` : text));
    }
    return v;
  };
}

export function string(options: { nonEmpty?: boolean } = {}): Schema<string> {
  return (v, field) => {
    if (typeof v !== 'string' || (options.nonEmpty === true && v.trim() === ''))
      throw new FieldError(field, got(v, options.nonEmpty === true ? 'a non-empty string' : 'a string'));
    return v;
  };
}

export function boolean(): Schema<boolean> {
  return (v, field) => {
    if (typeof v !== 'boolean') throw new FieldError(field, got(v, 'true or false'));
    return v;
  };
}

/** One of the listed literals: "got 'x', expected one of a, b, c". */
export function oneOf<const T extends string | number>(values: readonly T[]): Schema<T> {
  return (v, field) => {
    const found = values.find((x) => x === v);
    if (found === undefined) throw new FieldError(field, `got ${show(v)}, expected one of ${values.join(', ')}`);
    return found;
  };
}

/** undefined stays undefined; anything else must pass `schema`. */
export function optional<T>(schema: Schema<T>): Schema<T | undefined> {
  return (v, field) => (v === undefined ? undefined : schema(v, field));
}

export function arrayOf<T>(schema: Schema<T>, options: { length?: number } = {}): Schema<T[]> {
  return (v, field) => {
    if (!Array.isArray(v)) throw new FieldError(field, got(v, 'a list'));
    if (options.length !== undefined && v.length !== options.length)
      throw new FieldError(field, `got ${v.length} values, expected ${options.length}`);
    return v.map((x, i) => schema(x, `${field}[${i}]`));
  };
}

/** A record with string keys and values that pass `schema`. */
export function recordOf<T>(schema: Schema<T>): Schema<Record<string, T>> {
  return (v, field) => {
    if (!isPlainObject(v)) throw new FieldError(field, got(v, 'an object'));
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, schema(x, join(field, k))]));
  };
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function join(parent: string, key: string): string {
  return parent === '' ? key : `${parent}.${key}`;
}

/** Schemas for the fields of a T; keys not listed are ignored, undefined results are left out. */
export type Shape<T> = { [K in keyof T]-?: Schema<T[K]> };

export function object<T>(shape: Shape<T>, check?: (value: T, field: string) => void): Schema<T> {
  return (v, field) => {
    if (!isPlainObject(v)) throw new FieldError(field === '' ? '(top level)' : field, got(v, 'an object'));
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(shape) as (keyof T & string)[]) {
      const parsed = shape[key](v[key], join(field, key));
      if (parsed !== undefined) out[key] = parsed;
    }
    const value = out as T;
    check?.(value, field);
    return value;
  };
}

/** A field's path below `parent` (for cross-field checks). */
export function fieldPath(parent: string, key: string): string {
  return join(parent, key);
}

/** Parse `value` with `schema`; problems found in a file name the file. */
export function parse<T>(schema: Schema<T>, value: unknown, where: { file?: string; field?: string } = {}): T {
  try {
    return schema(value, where.field ?? '');
  } catch (err) {
    if (err instanceof FieldError && where.file !== undefined && err.file === undefined)
      throw new FieldError(err.field, err.problem, where.file);
    throw err;
  }
}

/** null stays null; anything else must pass `schema`. */
export function nullable<T>(schema: Schema<T>): Schema<T | null> {
  return (v, field) => (v === null ? null : schema(v, field));
}

/** A missing field (undefined) reads as `fallback`; anything else must pass `schema`. */
export function withDefault<T>(schema: Schema<T>, fallback: T): Schema<T> {
  return (v, field) => (v === undefined ? fallback : schema(v, field));
}

/** A string matching `pattern`; `what` names it in the error ("a SHA-256 hex digest"). */
export function matching(pattern: RegExp, what: string): Schema<string> {
  return (v, field) => {
    if (typeof v !== 'string' || !pattern.test(v)) throw new FieldError(field, got(v, what));
    return v;
  };
}

/** A count read from a file: a safe integer >= 0. */
export function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}
