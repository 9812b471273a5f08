import { describe, expect, it } from 'vitest';
import { SegError } from '../../src/core/errors.js';
import { egbHeadSpec, formatHeadSpec, headLabel, parseHeadSpec, type HeadSpec } from '../../src/heads/head-spec.js';

describe('parseHeadSpec', () => {
  it('parses every documented form with its defaults', () => {
    expect(parseHeadSpec('softmax', 21)).toEqual({ kind: 'softmax' });
    expect(parseHeadSpec('linear', 21)).toEqual({ kind: 'linear' });
    expect(parseHeadSpec('egb', 21)).toEqual({ kind: 'egb', boost: 'exp', alpha: 1 / 21, beta: 0 });
    expect(parseHeadSpec('egb:exp', 4)).toEqual({ kind: 'egb', boost: 'exp', alpha: 0.25, beta: 0 });
    expect(parseHeadSpec('egb:pow3', 21)).toEqual({ kind: 'egb', boost: 'pow3', alpha: 0.001, beta: 0 });
    expect(parseHeadSpec('egb:exp:alpha=0.3', 21)).toEqual({ kind: 'egb', boost: 'exp', alpha: 0.3, beta: 0 });
    expect(parseHeadSpec('egb:pow3:alpha=0.01,beta=0.1', 21)).toEqual({ kind: 'egb', boost: 'pow3', alpha: 0.01, beta: 0.1 });
    expect(parseHeadSpec('egb:exp:beta=-0.5', 2)).toEqual({ kind: 'egb', boost: 'exp', alpha: 0.5, beta: -0.5 });
    expect(parseHeadSpec(' egb:exp:alpha=1e-2 ', 2)).toEqual({ kind: 'egb', boost: 'exp', alpha: 0.01, beta: 0 });
  });

  it.each([
    ['sigmoid', /--head: got 'sigmoid', expected one of softmax, linear, egb/],
    ['egb:tanh', /got 'egb:tanh', expected one of/],
    ['egb:exp:alpha=0.3:x', /expected one of/],
    ['Softmax', /expected one of/],
    ['', /expected one of/],
    ['egb:exp:gamma=1', /unknown parameter 'gamma'/],
    ['egb:exp:alpha=abc', /expected alpha=NUMBER/],
    ['egb:exp:alpha=', /expected alpha=NUMBER/],
    ['egb:exp:alpha=0.3x', /expected alpha=NUMBER/],
    ['egb:exp:alpha=1,alpha=2', /given twice/],
    ['egb:exp:alpha=0', /alpha=0, expected a finite number > 0/],
    ['egb:exp:alpha=-1', /expected a finite number > 0/],
    ['egb:exp:beta=Infinity', /beta=NUMBER/],
  ])('rejects %j with a SegError naming --head', (text, message) => {
    let caught: unknown;
    try {
      parseHeadSpec(text, 21);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(SegError);
    expect((caught as SegError).message).toMatch(message);
    expect((caught as SegError).message).toMatch(/--head/);
  });
});

describe('formatHeadSpec', () => {
  const specs: HeadSpec[] = [
    { kind: 'softmax' },
    { kind: 'linear' },
    egbHeadSpec(21),
    egbHeadSpec(3, 'pow3', { beta: 0.1 }),
    { kind: 'egb', boost: 'exp', alpha: 0.1 + 0.2, beta: -1e-7 },
  ];

  it('writes the canonical form with both parameters', () => {
    expect(formatHeadSpec({ kind: 'softmax' })).toBe('softmax');
    expect(formatHeadSpec(egbHeadSpec(21))).toBe('egb:exp:alpha=0.047619047619047616,beta=0');
    expect(formatHeadSpec(egbHeadSpec(21, 'pow3'))).toBe('egb:pow3:alpha=0.001,beta=0');
  });

  it.each(specs.map((s) => [formatHeadSpec(s), s] as const))('round-trips %s exactly', (text, spec) => {
    expect(parseHeadSpec(text, 21)).toEqual(spec);
  });
});

describe('headLabel', () => {
  it('is short and names the parameters', () => {
    expect(headLabel({ kind: 'softmax' })).toBe('softmax');
    expect(headLabel({ kind: 'linear' })).toBe('linear');
    expect(headLabel(egbHeadSpec(21))).toBe('egb-exp a=0.0476');
    expect(headLabel(parseHeadSpec('egb:pow3:alpha=0.01,beta=0.1', 21))).toBe('egb-pow3 a=0.01 b=0.1');
  });
});
