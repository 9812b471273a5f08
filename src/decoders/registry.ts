/**
 * The decoders seg knows, by name (`--decoder`). A new decoder is one file exporting a
 * DecoderDefinition plus one line in BUILT_IN; code may also call registerDecoder.
 */
import { expectedOneOf, SegError } from '../core/errors.js';
import { FieldError, type Schema } from '../core/schema.js';
import { ASPP } from './aspp.js';
import { ASPP_PLUS } from './aspp-plus.js';
import type { DecoderDefinition } from './decoder.js';

const BUILT_IN: readonly DecoderDefinition[] = [ASPP, ASPP_PLUS];

/** What a model without a `decoder` field has (every checkpoint saved before decoders existed). */
export const DEFAULT_DECODER = 'aspp';

const byName = new Map<string, DecoderDefinition>();

/** Adds a decoder; SegError if its name is taken. */
export function registerDecoder(definition: DecoderDefinition): void {
  if (byName.has(definition.name)) throw new SegError(`decoder ${definition.name}: already registered`);
  byName.set(definition.name, definition);
}

for (const definition of BUILT_IN) registerDecoder(definition);

export function decoderNames(): string[] {
  return [...byName.keys()];
}

/** The definition for `name`; SegError naming `flag` and the choices otherwise. */
export function decoderDefinition(name: string, flag = '--decoder'): DecoderDefinition {
  const definition = byName.get(name);
  if (definition === undefined) throw expectedOneOf(flag, name, decoderNames());
  return definition;
}

export function parseDecoderName(value: string, flag = '--decoder'): string {
  return decoderDefinition(value, flag).name;
}

/** Schema of a decoder name (for config files): one of the names registered when it runs. */
export function decoderNameSchema(): Schema<string> {
  return (value, field) => {
    if (typeof value !== 'string' || !byName.has(value)) {
      throw new FieldError(field, `got ${JSON.stringify(value)}, expected one of ${decoderNames().join(', ')}`);
    }
    return value;
  };
}

/** Each decoder's name and description, for help texts. */
export function decoderHelp(): string {
  return [...byName.values()].map((d) => `${d.name}: ${d.description}`).join('; ');
}
