/**
 * The backbones seg knows, by name. A new backbone is one file exporting a
 * BackboneDefinition plus one line in BUILT_IN; code (a test, a plugin) may also call
 * registerBackbone at run time. CLI choices, `seg info` and config validation ask here.
 */
import { expectedOneOf, SegError } from '../core/errors.js';
import type { Schema } from '../core/schema.js';
import { FieldError } from '../core/schema.js';
import type { BackboneDefinition, BackboneFeatures, BackboneName, BackboneOptions, OutputStride } from './backbone.js';
import { OUTPUT_STRIDES } from './backbone.js';
import { RESNET } from './resnet.js';

const BUILT_IN: readonly BackboneDefinition[] = [RESNET];

const byName = new Map<BackboneName, BackboneDefinition>();

/** Adds a backbone under each of its names; SegError if a name is taken. */
export function registerBackbone(definition: BackboneDefinition): void {
  const taken = definition.names.filter((n) => byName.has(n));
  if (taken.length > 0) throw new SegError(`backbone ${taken.join(', ')}: already registered`);
  if (definition.names.length === 0) throw new SegError('registerBackbone: a backbone needs at least one name');
  for (const name of definition.names) byName.set(name, definition);
}

for (const definition of BUILT_IN) registerBackbone(definition);

/** Every registered name, in registration order (smaller variants first within a definition). */
export function backboneNames(): BackboneName[] {
  return [...byName.keys()];
}

/** The definition for `name`; SegError naming `flag` and the choices otherwise. */
export function backboneDefinition(name: string, flag = '--backbone'): BackboneDefinition {
  const definition = byName.get(name);
  if (definition === undefined) throw expectedOneOf(flag, name, backboneNames());
  return definition;
}

export function parseBackboneName(value: string, flag = '--backbone'): BackboneName {
  backboneDefinition(value, flag);
  return value;
}

/** Schema of a backbone name (for config files): one of the names registered when it runs. */
export function backboneNameSchema(): Schema<BackboneName> {
  return (value, field) => {
    if (typeof value !== 'string' || !byName.has(value)) {
      throw new FieldError(field, `got ${JSON.stringify(value)}, expected one of ${backboneNames().join(', ')}`);
    }
    return value;
  };
}

export function parseOutputStride(value: number | string, flag = '--output-stride'): OutputStride {
  const stride = OUTPUT_STRIDES.find((s) => String(s) === String(value));
  if (stride === undefined) throw expectedOneOf(flag, String(value), OUTPUT_STRIDES.map(String));
  return stride;
}

/** The backbone's tree for options (checked by its definition) at an output stride. */
export function backboneFeatures(options: BackboneOptions, outputStride: OutputStride): BackboneFeatures {
  const definition = backboneDefinition(options.name);
  return definition.spec(definition.options(options, 'backbone'), parseOutputStride(outputStride));
}

/** Names in the order of `names` that come before `name` (smaller variants to suggest), nearest first. */
export function smallerBackbones(name: BackboneName): BackboneName[] {
  const names = backboneDefinition(name).names;
  return names.slice(0, names.indexOf(name)).reverse();
}

/** The output strides every backbone offers (choices for `--output-stride`). */
export function outputStrides(): OutputStride[] {
  return [...OUTPUT_STRIDES];
}

/** Each definition's names and description, for help texts (`resnet18|...: dilated ResNet ...`). */
export function backboneHelp(): string {
  return [...new Set(byName.values())].map((d) => `${d.names.join('|')}: ${d.description}`).join('; ');
}
