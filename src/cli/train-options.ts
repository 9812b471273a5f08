/** The training flags, shared by `seg train` and `seg trace`, and their conversion to a TrainConfig. */
import { type Command, Option } from 'commander';
import { SegError } from '../core/errors.js';
import { BOOST_KINDS, egbHeadSpec, formatHeadSpec, type BoostKind } from '../heads/head-spec.js';
import { nestTrainConfig, type FlatTrainConfig, type TrainConfig } from '../training/train-config.js';
import { flagNameOf, trainFieldRow, trainFieldRows, type TrainField } from '../training/train-fields.js';
import { parseFloatFlag } from './options.js';
import { applyConfigFile, isGiven } from './config-file.js';

/** The egb flags, folded into `head` (they are no config field of their own). */
export interface EgbFlags {
  boost?: string;
  egbAlpha?: number;
  egbBeta?: number;
}

/**
 * The options of a training command: each setting under its flat name, as commander gives it
 * (a choice that is a number, --output-stride, as its text; a switch not typed, undefined).
 */
export type TrainingFlags = Partial<Omit<FlatTrainConfig, 'outputStride'>> & { outputStride?: string } & EgbFlags & { backend?: string };

/** The commander option of one row of the field table. */
export function fieldOption(name: TrainField, overrides: { description?: string } = {}): Option {
  const row = trainFieldRow(name);
  const option = new Option(row.flag, overrides.description ?? row.description);
  const choices = row.choices?.();
  if (choices !== undefined) option.choices([...choices]);
  else if (row.parse !== undefined) {
    const parseText = row.parse;
    const flag = flagNameOf(name);
    option.argParser((text: string) => parseText(text, flag));
  }
  if (row.default !== undefined && !option.isBoolean()) option.default(choices !== undefined ? String(row.default) : row.default);
  return option;
}

/** Every training flag except --head, --out and --resume (which differ between train and trace), from the field table. */
export function addTrainingOptions(cmd: Command, options: { dataHelp?: string } = {}): Command {
  // --data first in the help, then the table's order.
  const rows = trainFieldRows().sort(([a], [b]) => Number(b === 'data') - Number(a === 'data'));
  for (const [name, row] of rows) {
    if (row.sharedFlag === false) continue;
    if (name === 'data') {
      const option = fieldOption(name, options.dataHelp !== undefined ? { description: options.dataHelp } : {});
      cmd.addOption(options.dataHelp === undefined ? option.makeOptionMandatory() : option);
      cmd
        .addOption(new Option('--boost <kind>', 'egb boost function').choices([...BOOST_KINDS]))
        .option('--egb-alpha <a>', 'egb: y = alpha * boost(z) + beta (default exp 1/K, pow3 0.001)', parseFloatFlag('--egb-alpha', 0))
        .option('--egb-beta <b>', 'egb: beta (default 0)', parseFloatFlag('--egb-beta'));
      continue;
    }
    cmd.addOption(fieldOption(name));
  }
  return cmd;
}

/** A flag's value as the setting's value: a choice's text parsed, a switch not typed is false. */
function settingOfFlag(name: TrainField, value: unknown): unknown {
  const row = trainFieldRow(name);
  if (value === undefined) return row.default === false ? false : undefined;
  if (typeof value === 'string' && row.choices !== undefined && row.parse !== undefined) return row.parse(value, flagNameOf(name));
  return value;
}

/** The head spec text from --head plus the egb flags (which only apply to egb). */
export function headTextFromFlags(head: string, flags: Pick<TrainingFlags, 'boost' | 'egbAlpha' | 'egbBeta'>, numClasses: number): string {
  const egbFlags = flags.boost !== undefined || flags.egbAlpha !== undefined || flags.egbBeta !== undefined;
  if (!egbFlags) return head;
  if (head !== 'egb') {
    throw new SegError(
      `--boost/--egb-alpha/--egb-beta apply to --head egb only (got --head ${head}); or write the parameters into the head, e.g. egb:pow3:alpha=0.01`,
      '--head',
    );
  }
  const params: { alpha?: number; beta?: number } = {};
  if (flags.egbAlpha !== undefined) params.alpha = flags.egbAlpha;
  if (flags.egbBeta !== undefined) params.beta = flags.egbBeta;
  return formatHeadSpec(egbHeadSpec(numClasses, (flags.boost ?? 'exp') as BoostKind, params, '--head'));
}

/** Every training setting but the per-run ones (head, seed, out), by flat name: what `seg trace` shares across runs. */
export function sharedTrainConfigFromFlags(flags: TrainingFlags): Omit<FlatTrainConfig, 'head' | 'seed' | 'out'> {
  const shared: Record<string, unknown> = {};
  for (const [name] of trainFieldRows()) {
    if (name === 'head' || name === 'seed' || name === 'out') continue;
    const value = name === 'data' ? (flags.data ?? '') : settingOfFlag(name, flags[name]);
    // --aux-loss 0 is no aux classifier, which configs store as no auxLoss.
    if (value !== undefined && !(name === 'auxLoss' && value === 0)) shared[name] = value;
  }
  // Values are checked by the config's schema when the run starts (flags and files alike).
  return shared as Omit<FlatTrainConfig, 'head' | 'seed' | 'out'>;
}

/** The run's TrainConfig from the flags, its head text and its run folder. */
export function trainConfigFromFlags(flags: TrainingFlags, head: string, out: string): TrainConfig {
  return nestTrainConfig({ ...sharedTrainConfigFromFlags(flags), head, seed: settingOfFlag('seed', flags.seed) as number, out });
}

/** The config fields whose flags were typed or set by --config (the egb flags count as `head`). */
export function typedFields(cmd: Command): TrainField[] {
  const typed = (name: string): boolean => isGiven(cmd, name);
  const fields = trainFieldRows()
    .map(([name]) => name)
    .filter(typed);
  if (!fields.includes('head') && ['boost', 'egbAlpha', 'egbBeta'].some(typed)) fields.push('head');
  return fields;
}

/**
 * `--config FILE` and `--print-config` on a training command: the file's settings are
 * applied before the action runs (typed flags win), so the action sees one set of options.
 */
export function addConfigOptions(cmd: Command, translate?: (settings: Record<string, unknown>) => Record<string, unknown>): Command {
  cmd
    .option(
      '--config <file>',
      'settings from a JSON or YAML file: sections as a run\'s config.json (e.g. {"data": {"crop": 321}}) or flat camelCase names ({"crop": 321}); flags override it',
    )
    .option('--print-config', 'print the resolved settings as JSON (a file --config reads back) and exit');
  cmd.hook('preAction', (command) => {
    const file = command.opts()['config'] as string | undefined;
    if (file === undefined) return;
    applyConfigFile(command, file, { exclude: ['config', 'printConfig', 'resume'], ...(translate !== undefined ? { translate } : {}) });
  });
  return cmd;
}
