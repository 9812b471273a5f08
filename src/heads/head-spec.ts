/**
 * Head specs: which output head a model trains with, and its parameters, as data.
 *
 * Text form (the `--head` flag, run names, checkpoint configs):
 *   softmax | linear | egb | egb:exp | egb:pow3 | egb:<boost>:alpha=A[,beta=B]
 * Defaults: exp alpha = 1/K (at z = 0 the boosted output equals the uniform softmax), pow3 alpha = 0.001, beta = 0.
 * `formatHeadSpec` always writes both parameters with round-trip precision, so a recorded
 * spec parses back to exactly the same numbers.
 */
import { SegError, expectedOneOf } from '../core/errors.js';

export type BoostKind = 'exp' | 'pow3';

export const BOOST_KINDS: readonly BoostKind[] = ['exp', 'pow3'];

export type HeadSpec = { kind: 'softmax' } | { kind: 'egb'; boost: BoostKind; alpha: number; beta: number } | { kind: 'linear' };

export type HeadKind = HeadSpec['kind'];

/** Default pow3 alpha: keeps alpha * z^3 near the targets for logits of a few units. */
export const POW3_DEFAULT_ALPHA = 0.001;

const HEAD_FLAG = '--head';
const HEAD_FORMS = ['softmax', 'linear', 'egb', 'egb:exp', 'egb:pow3', 'egb:<exp|pow3>:alpha=A,beta=B'] as const;

function checkNumClasses(numClasses: number): void {
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new Error(`head: numClasses must be a positive integer, got ${numClasses}`);
  }
}

/** Default boost scale: 1/K for exp (matches the uniform softmax at z = 0), 0.001 for pow3. */
export function defaultEgbAlpha(boost: BoostKind, numClasses: number): number {
  checkNumClasses(numClasses);
  return boost === 'exp' ? 1 / numClasses : POW3_DEFAULT_ALPHA;
}

/**
 * An egb spec with defaults filled in and parameters checked (alpha > 0 and finite, beta
 * finite). `flag` names the option that supplied the values, for the error message.
 */
export function egbHeadSpec(
  numClasses: number,
  boost: BoostKind = 'exp',
  params: { alpha?: number; beta?: number } = {},
  flag = HEAD_FLAG,
): HeadSpec {
  if (!BOOST_KINDS.includes(boost)) throw expectedOneOf('--boost', String(boost), BOOST_KINDS);
  const alpha = params.alpha ?? defaultEgbAlpha(boost, numClasses);
  const beta = params.beta ?? 0;
  if (!Number.isFinite(alpha) || alpha <= 0) {
    throw new SegError(`${flag}: got alpha=${alpha}, expected a finite number > 0`, flag);
  }
  if (!Number.isFinite(beta)) {
    throw new SegError(`${flag}: got beta=${beta}, expected a finite number`, flag);
  }
  return { kind: 'egb', boost, alpha, beta };
}

function parseParams(text: string, params: string): { alpha?: number; beta?: number } {
  const out: { alpha?: number; beta?: number } = {};
  for (const part of params.split(',')) {
    const eq = part.indexOf('=');
    const key = (eq < 0 ? part : part.slice(0, eq)).trim();
    const raw = eq < 0 ? '' : part.slice(eq + 1).trim();
    if (key !== 'alpha' && key !== 'beta') {
      throw new SegError(
        `${HEAD_FLAG}: got '${text}', unknown parameter '${key}': expected alpha=NUMBER and/or beta=NUMBER, e.g. egb:exp:alpha=0.3,beta=0`,
        HEAD_FLAG,
      );
    }
    if (out[key] !== undefined) {
      throw new SegError(`${HEAD_FLAG}: got '${text}', parameter '${key}' is given twice`, HEAD_FLAG);
    }
    const value = Number(raw);
    if (raw === '' || !Number.isFinite(value)) {
      throw new SegError(`${HEAD_FLAG}: got '${text}', expected ${key}=NUMBER (e.g. ${key}=0.3)`, HEAD_FLAG);
    }
    out[key] = value;
  }
  return out;
}

/** Parse the text form (see the module comment). Mistakes raise SegError naming `--head`. */
export function parseHeadSpec(text: string, numClasses: number): HeadSpec {
  checkNumClasses(numClasses);
  const trimmed = text.trim();
  if (trimmed === 'softmax') return { kind: 'softmax' };
  if (trimmed === 'linear') return { kind: 'linear' };
  const parts = trimmed.split(':');
  if (parts[0] !== 'egb' || parts.length > 3) throw expectedOneOf(HEAD_FLAG, text, HEAD_FORMS);
  const boostText = parts.length >= 2 ? parts[1] : 'exp';
  const boost = BOOST_KINDS.find((b) => b === boostText);
  if (boost === undefined) throw expectedOneOf(HEAD_FLAG, text, HEAD_FORMS);
  const params = parts.length === 3 ? parseParams(text, parts[2]) : {};
  return egbHeadSpec(numClasses, boost, params);
}

/** Canonical text form; `parseHeadSpec(formatHeadSpec(s), K)` gives back `s` exactly. */
export function formatHeadSpec(spec: HeadSpec): string {
  switch (spec.kind) {
    case 'softmax':
    case 'linear':
      return spec.kind;
    case 'egb':
      // String(number) is the shortest text that reads back as the same double.
      return `egb:${spec.boost}:alpha=${String(spec.alpha)},beta=${String(spec.beta)}`;
  }
}

function short(x: number): string {
  return String(Number(x.toPrecision(3)));
}

/** Short label for tables and chart legends, e.g. 'softmax', 'egb-exp a=0.0476', 'egb-pow3 a=0.01 b=0.1'. */
export function headLabel(spec: HeadSpec): string {
  if (spec.kind !== 'egb') return spec.kind;
  const beta = spec.beta === 0 ? '' : ` b=${short(spec.beta)}`;
  return `egb-${spec.boost} a=${short(spec.alpha)}${beta}`;
}

/** A folder name for a head spec: 'egb:exp:alpha=0.3,beta=0' -> 'egb-exp-alpha=0.3_beta=0'. */
export function headSlug(head: string): string {
  return head.replace(/:/g, '-').replace(/[^a-zA-Z0-9.=-]+/g, '_');
}
