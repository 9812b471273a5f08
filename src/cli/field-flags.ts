/**
 * The library names fields (`batch`, `valSplit`); the CLI names flags (`--batch`,
 * `--val-split`). An error about a field of a command's options becomes an error about its
 * flag; fields a message mentions in backticks are renamed too. Errors about a file keep
 * the file's field names.
 */
import type { SegError } from '../core/errors.js';
import { FieldError } from '../core/schema.js';

/** Fields whose flag is not their kebab-case name. */
const FLAG_OF: Readonly<Record<string, string>> = { numClasses: '--classes', batchSize: '--batch' };

export function flagOf(field: string): string {
  return FLAG_OF[field] ?? `--${field.replace(/[A-Z]/g, (m) => `-${m.toLowerCase()}`)}`;
}

/** `text` with the fields it names in backticks written as flags. */
export function renameFields(text: string): string {
  return text.replace(/`([a-z][A-Za-z]*)`/g, (_m, field: string) => flagOf(field));
}

/** The message the CLI prints for a user error. */
export function cliMessage(err: SegError): string {
  if (err instanceof FieldError) {
    if (err.file !== undefined) return err.message;
    const field = /^[a-z][A-Za-z]*$/.test(err.field) ? flagOf(err.field) : err.field;
    return `${field}: ${renameFields(err.problem)}`;
  }
  return renameFields(err.message);
}
