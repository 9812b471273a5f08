/**
 * The library names fields (`batch`, `valSplit`, or by path `data.batch`); the CLI names
 * flags (`--batch`, `--val-split`). An error about a field of a command's options becomes an
 * error about its flag; fields a message mentions in backticks are renamed too. Errors about
 * a file keep the file's field names. Training settings take their flag from the field table.
 */
import type { SegError } from '../core/errors.js';
import { FieldError } from '../core/schema.js';
import { fieldOfPath, flagNameOf, TRAIN_FIELDS, type TrainField } from '../training/train-fields.js';

/** Fields outside the training table whose flag is not their kebab-case name. */
const FLAG_OF: Readonly<Record<string, string>> = { numClasses: '--classes', batchSize: '--batch' };

export function flagOf(field: string): string {
  if (Object.hasOwn(TRAIN_FIELDS, field)) return flagNameOf(field as TrainField);
  const byPath = fieldOfPath(field);
  if (byPath !== undefined) return flagNameOf(byPath);
  return FLAG_OF[field] ?? `--${field.replace(/[A-Z]/g, (m) => `-${m.toLowerCase()}`)}`;
}

/** `text` with the fields it names in backticks written as flags. */
export function renameFields(text: string): string {
  return text.replace(/`([a-z][A-Za-z]*(?:\.[a-z][A-Za-z]*)?)`/g, (m, field: string) =>
    field.includes('.') && fieldOfPath(field) === undefined ? m : flagOf(field),
  );
}

/** The message the CLI prints for a user error. */
export function cliMessage(err: SegError): string {
  if (err instanceof FieldError) {
    if (err.file !== undefined) return err.message;
    const named = /^[a-z][A-Za-z]*$/.test(err.field) || fieldOfPath(err.field) !== undefined;
    return `${named ? flagOf(err.field) : err.field}: ${renameFields(err.problem)}`;
  }
  return renameFields(err.message);
}
