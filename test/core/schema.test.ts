import { describe, expect, it } from 'vitest';
import {
  arrayOf,
  boolean,
  FieldError,
  integer,
  isCount,
  matching,
  nullable,
  number,
  object,
  oneOf,
  optional,
  parse,
  string,
  withDefault,
} from '../../src/core/schema.js';

interface Sample {
  iters: number;
  lr: number;
  name: string;
  flag: boolean;
  kind: 'a' | 'b';
  extra?: number;
  inner: { values: number[] };
}

const schema = object<Sample>({
  iters: integer({ min: 0 }),
  lr: number({ above: 0 }),
  name: string({ nonEmpty: true }),
  flag: boolean(),
  kind: oneOf(['a', 'b'] as const),
  extra: optional(integer({ min: 1, max: 3 })),
  inner: object<{ values: number[] }>({ values: arrayOf(number(), { length: 2 }) }),
});

const good = { iters: 3, lr: 0.5, name: 'x', flag: true, kind: 'b', inner: { values: [1, 2] }, ignored: 'yes' };

function problem(value: unknown, file?: string): FieldError {
  try {
    parse(schema, value, file !== undefined ? { file } : {});
  } catch (err) {
    if (err instanceof FieldError) return err;
    throw err;
  }
  throw new Error('no error');
}

describe('schema', () => {
  it('parses a valid value into a clean copy (unknown keys dropped, undefined left out)', () => {
    expect(parse(schema, good)).toEqual({ iters: 3, lr: 0.5, name: 'x', flag: true, kind: 'b', inner: { values: [1, 2] } });
    expect('extra' in parse(schema, good)).toBe(false);
    expect(parse(schema, { ...good, extra: 2 }).extra).toBe(2);
  });

  it('names the field and what was expected', () => {
    expect(problem({ ...good, iters: -5 }).message).toBe('iters: got -5, expected an integer >= 0');
    // 1e300 is an integer to JavaScript, but not a safe one.
    expect(problem({ ...good, iters: 1e300 }).message).toBe('iters: got 1e+300, expected an integer >= 0, at most 2^53 - 1');
    expect(problem({ ...good, iters: 2.5 }).field).toBe('iters');
    expect(problem({ ...good, lr: 'abc' }).message).toBe('lr: got "abc", expected a number > 0');
    expect(problem({ ...good, lr: 0 }).field).toBe('lr');
    expect(problem({ ...good, name: ' ' }).field).toBe('name');
    expect(problem({ ...good, flag: 1 }).message).toBe('flag: got 1, expected true or false');
    expect(problem({ ...good, kind: 'c' }).message).toBe('kind: got "c", expected one of a, b');
    expect(problem({ ...good, extra: 4 }).message).toBe('extra: got 4, expected an integer in [1, 3]');
    expect(problem({ ...good, inner: { values: [1, Number.NaN] } }).field).toBe('inner.values[1]');
    expect(problem({ ...good, inner: { values: [1] } }).message).toBe('inner.values: got 1 values, expected 2');
    expect(problem({ ...good, inner: null }).field).toBe('inner');
  });

  it('names the file for values read from disk, and keeps the field', () => {
    const err = problem({ ...good, lr: 'abc' }, '/run/checkpoint/config.json');
    expect(err.message).toBe('/run/checkpoint/config.json: lr: got "abc", expected a number > 0');
    expect(err.field).toBe('lr');
    expect(err.file).toBe('/run/checkpoint/config.json');
  });
});

describe('nullable, withDefault, matching, isCount', () => {
  it('nullable keeps null and checks the rest', () => {
    expect(nullable(integer())(null, 'limit')).toBeNull();
    expect(nullable(integer())(3, 'limit')).toBe(3);
    expect(() => nullable(integer())('3', 'limit')).toThrow('limit: got "3", expected an integer');
  });

  it('withDefault fills a missing field only', () => {
    expect(withDefault(boolean(), true)(undefined, 'pad')).toBe(true);
    expect(withDefault(boolean(), true)(false, 'pad')).toBe(false);
    expect(() => withDefault(boolean(), true)(null, 'pad')).toThrow('pad: got null, expected true or false');
  });

  it('matching names what the pattern stands for', () => {
    const hex = matching(/^[0-9a-f]{4}$/, 'four hex digits');
    expect(hex('0a9f', 'id')).toBe('0a9f');
    expect(() => hex('0A9F', 'id')).toThrow('id: got "0A9F", expected four hex digits');
    expect(() => hex(12, 'id')).toThrow('id: got 12, expected four hex digits');
  });

  it('isCount: safe integers >= 0 only', () => {
    expect([0, 7, 2 ** 53 - 1].every(isCount)).toBe(true);
    expect([-1, 1.5, 2 ** 53, Number.NaN, '3', null].some(isCount)).toBe(false);
  });
});
