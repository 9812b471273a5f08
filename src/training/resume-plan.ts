/**
 * What a resumed run takes from the arguments it is given. The run's checkpoint fixes the
 * model and the training recipe; a few settings may change from one segment to the next.
 *
 *   refused  head, backbone, outputStride, width, multiGrid, auxLoss (the aux classifier and
 *            its weight): another model is another run
 *   kept     split, crop, batch, lr, momentum, weightDecay, polyPower, warmupIters,
 *            warmupRatio, photometric, clipGradNorm, seed, pretrained, freezeBn: they shape the
 *            batches and updates, so the run keeps its own values (exact resume) and says
 *            which given values it ignores
 *   applied  iters (raised only: extends the run, the poly schedule is recomputed over the
 *            new length), evalEvery, evalLimit, saveEvery, logEvery, valSplit, data (a
 *            moved dataset; its classes and split size are checked), saveBest, tensorboard
 *
 * Each setting's rule is its row's `resume` in the field table (train-fields.ts); a new row
 * says its own. Fields are named by their flat names (`valSplit`). Only fields the caller
 * gave on purpose (`given`) are compared; by default all of them.
 */
import { FieldError } from '../core/schema.js';
import { fieldsWithResumeRule, getField, setField, type TrainConfig, type TrainField } from './train-fields.js';

export type { TrainField } from './train-fields.js';

// Each row's `resume` rule in the field table (train-fields.ts).
const REFUSED = fieldsWithResumeRule('refused');
const KEPT = fieldsWithResumeRule('kept');
const APPLIED = fieldsWithResumeRule('applied');

export interface FieldChange {
  field: TrainField;
  given: unknown;
  run: unknown;
}

export interface ResumePlan {
  /** The config the resumed run trains with. */
  config: TrainConfig;
  /** Given values the run ignores (it keeps its own). */
  kept: FieldChange[];
  /** Given values that take effect from now on. */
  applied: FieldChange[];
  /** Set when `iters` was raised: the run is extended. */
  extended?: { from: number; to: number };
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The plan for resuming a run saved with `saved`, given `config`; `given`
 * lists the fields set on purpose (undefined: all). `head` must be in its canonical text.
 */
export function planResume(saved: TrainConfig, config: TrainConfig, given?: readonly TrainField[]): ResumePlan {
  const isGiven = (f: TrainField): boolean => (given === undefined ? getField(config, f) !== undefined : given.includes(f));
  // No aux loss is stored as absent: compare it as 0.
  const value = (c: TrainConfig, f: TrainField): unknown => (f === 'auxLoss' ? (c.model.auxLoss ?? 0) : getField(c, f));
  const change = (f: TrainField): FieldChange => ({ field: f, given: getField(config, f), run: getField(saved, f) });
  const differs = (f: TrainField): boolean => isGiven(f) && !same(value(config, f), value(saved, f));
  for (const f of REFUSED) {
    if (differs(f)) {
      throw new FieldError(
        f,
        `got ${JSON.stringify(value(config, f))}, but the run in ${config.run.out} was trained with ${JSON.stringify(value(saved, f))}; a resumed run keeps its model. ` +
          `Leave \`${f}\` out to resume, or choose another \`out\` for a new run`,
      );
    }
  }
  let merged = setField(saved, 'out', config.run.out);
  const applied: FieldChange[] = [];
  let extended: ResumePlan['extended'];
  for (const f of APPLIED) {
    if (!differs(f)) continue;
    if (f === 'iters') {
      const [to, from] = [config.schedule.iters, saved.schedule.iters];
      if (to < from) {
        throw new FieldError(
          'iters',
          `got ${to}, but the run in ${config.run.out} is set for ${from}; \`iters\` can only be raised (to extend the run)`,
        );
      }
      extended = { from, to };
    }
    applied.push(change(f));
    merged = setField(merged, f, getField(config, f));
  }
  const kept = KEPT.filter(differs).map(change);
  return { config: merged, kept, applied, ...(extended !== undefined ? { extended } : {}) };
}

function listChanges(changes: readonly FieldChange[], now: 'given' | 'run'): string {
  return changes
    .map(
      (c) =>
        `\`${c.field}\` ${JSON.stringify(now === 'given' ? c.given : c.run)} (${now === 'given' ? 'was' : 'given'} ${JSON.stringify(now === 'given' ? c.run : c.given)})`,
    )
    .join(', ');
}

/** Lines that say what a resume kept, applied and extended; fields in backticks. */
export function describeResumePlan(plan: ResumePlan): string[] {
  const lines: string[] = [];
  if (plan.kept.length > 0) lines.push(`resume keeps the run's own ${listChanges(plan.kept, 'run')}: they shape its batches and updates`);
  if (plan.applied.length > 0) lines.push(`resume applies ${listChanges(plan.applied, 'given')}`);
  if (plan.extended !== undefined) {
    lines.push(
      `extending the run from ${plan.extended.from} to ${plan.extended.to} iterations; the poly learning-rate schedule is recomputed over ${plan.extended.to}`,
    );
  }
  return lines;
}
