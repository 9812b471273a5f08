/**
 * `trace.csv` of a convergence trace: one row per logged training iteration of each run
 * (head, lr, seed), header `head,seed,iter,wall_s,loss,train_acc,val_miou,lr`. RFC 4180
 * quoting (head specs such as `egb:exp:alpha=0.3,beta=0` hold commas). `val_miou` is empty
 * on rows without an evaluation; `train_acc` may be empty; `loss` is empty on an evaluation
 * row without a logged training step (traces written before every evaluation logged one). A
 * non-finite `loss` (NaN or Infinity) marks the iteration where a run diverged: it is the
 * run's last row. Files
 * written before the `lr` column existed still load (lr empty = unknown). A (head, lr,
 * seed, iter) appears at most once.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { SegError } from '../core/errors.js';
import { writeFileAtomic } from '../core/durable-files.js';

export interface TraceCsvRow {
  /** Head spec text as given to `seg trace --heads`. */
  head: string;
  seed: number;
  iter: number;
  /** Cumulative training seconds of the run (evaluation excluded). */
  wall_s: number;
  /** Null on an evaluation row without a logged training step; non-finite where the run diverged. */
  loss: number | null;
  train_acc: number | null;
  /** Validation mIoU in [0, 1] where an evaluation happened at this iteration, else null. */
  val_miou: number | null;
  /** Base learning rate of the run; null when unknown (a trace.csv without the lr column). */
  lr: number | null;
}

export const TRACE_CSV_FILE = 'trace.csv';
export const TRACE_CSV_COLUMNS = ['head', 'seed', 'iter', 'wall_s', 'loss', 'train_acc', 'val_miou', 'lr'] as const;
export const TRACE_CSV_HEADER = TRACE_CSV_COLUMNS.join(',');
/** The header of trace.csv files written before runs recorded their learning rate. */
export const TRACE_CSV_HEADER_WITHOUT_LR = TRACE_CSV_COLUMNS.slice(0, -1).join(',');

function quoteField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function optionalNumber(value: number | null): string {
  return value === null || Number.isNaN(value) ? '' : String(value);
}

/** Header line plus one line per row, each ending in '\n'. Numbers keep round-trip precision. */
export function formatTraceCsv(rows: readonly TraceCsvRow[]): string {
  const lines = [TRACE_CSV_HEADER];
  for (const r of rows) {
    lines.push(
      [
        quoteField(r.head),
        String(r.seed),
        String(r.iter),
        String(r.wall_s),
        r.loss === null ? '' : String(r.loss),
        optionalNumber(r.train_acc),
        optionalNumber(r.val_miou),
        optionalNumber(r.lr),
      ].join(','),
    );
  }
  return lines.join('\n') + '\n';
}

interface CsvRecord {
  fields: string[];
  /** 1-based physical line where the record starts. */
  line: number;
}

/** RFC 4180 records (LF or CRLF, quoted fields with "" escapes and embedded newlines). */
function splitCsvRecords(text: string, file: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  let fields: string[] = [];
  let field = '';
  let line = 1;
  let recordLine = 1;
  let i = 0;
  const endRecord = () => {
    fields.push(field);
    records.push({ fields, line: recordLine });
    fields = [];
    field = '';
  };
  while (i < text.length) {
    const c = text[i];
    if (c === '"' && field === '') {
      // Quoted field: runs to the closing quote, which must be followed by a separator.
      const start = line;
      i++;
      for (;;) {
        if (i >= text.length) throw new SegError(`${file}: line ${start}: a quoted field is never closed (missing '"')`, file);
        const q = text[i];
        if (q === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        if (q === '\n') line++;
        field += q;
        i++;
      }
      const next = text[i];
      if (next !== undefined && next !== ',' && next !== '\n' && next !== '\r') {
        throw new SegError(
          `${file}: line ${line}: unexpected text after a closing quote (quote the whole field and double inner quotes)`,
          file,
        );
      }
      if (next === undefined) endRecord(); // the text ends right after the closing quote
      continue;
    }
    if (c === ',') {
      fields.push(field);
      field = '';
      i++;
    } else if (c === '\n' || c === '\r') {
      endRecord();
      i += c === '\r' && text[i + 1] === '\n' ? 2 : 1;
      line++;
      recordLine = line;
    } else {
      if (c === '"')
        throw new SegError(`${file}: line ${line}: a '"' inside an unquoted field (quote the field and double inner quotes)`, file);
      field += c;
      i++;
      if (i >= text.length) endRecord();
    }
  }
  if (fields.length > 0) endRecord();
  return records;
}

const NUMBER_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function parseNumberText(raw: string): number | undefined {
  const text = raw.trim();
  if (NUMBER_RE.test(text)) return Number(text);
  const lower = text.toLowerCase().replace(/^\+/, '');
  if (lower === 'nan' || lower === '-nan') return NaN;
  if (lower === 'infinity' || lower === 'inf') return Infinity;
  if (lower === '-infinity' || lower === '-inf') return -Infinity;
  return undefined;
}

/**
 * Rows of a trace.csv text. `file` names the source in errors, which give the line and the
 * column at fault.
 */
export function parseTraceCsv(text: string, file: string): TraceCsvRow[] {
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const records = splitCsvRecords(body, file).filter((r) => !(r.fields.length === 1 && r.fields[0]?.trim() === ''));
  const header = records[0];
  if (header === undefined) {
    throw new SegError(`${file}: empty file, expected the header '${TRACE_CSV_HEADER}' (write it with seg trace)`, file);
  }
  const got = header.fields.map((f) => f.trim()).join(',');
  if (got !== TRACE_CSV_HEADER && got !== TRACE_CSV_HEADER_WITHOUT_LR) {
    throw new SegError(
      `${file}: line ${header.line}: header is '${got}', expected '${TRACE_CSV_HEADER}' (a trace.csv written by seg trace)`,
      file,
    );
  }
  const columns = header.fields.length;
  const rows: TraceCsvRow[] = [];
  const lines: number[] = [];
  const seen = new Map<string, number>();
  for (const record of records.slice(1)) {
    const at = `${file}: line ${record.line}`;
    const f = record.fields;
    if (f.length !== columns) {
      throw new SegError(`${at}: ${f.length} fields, expected ${columns} (${got}); quote a head that contains commas`, file);
    }
    const cell = (i: number) => f[i] as string;
    const bad = (column: number, expected: string) =>
      new SegError(`${at}: ${TRACE_CSV_COLUMNS[column]} is '${cell(column)}', expected ${expected}`, file);
    const head = cell(0).trim();
    if (head === '') throw bad(0, 'a head spec such as softmax or egb:pow3');
    const seed = parseNumberText(cell(1));
    if (seed === undefined || !Number.isSafeInteger(seed) || seed < 0) throw bad(1, 'an integer >= 0');
    const iter = parseNumberText(cell(2));
    if (iter === undefined || !Number.isSafeInteger(iter) || iter < 0) throw bad(2, 'an integer >= 0');
    const wall = parseNumberText(cell(3));
    if (wall === undefined || !Number.isFinite(wall) || wall < 0) throw bad(3, 'a number of seconds >= 0');
    const loss = cell(4).trim() === '' ? null : parseNumberText(cell(4));
    if (loss === undefined) throw bad(4, 'a number (NaN or Infinity for a diverged step), or empty on an evaluation-only row');
    let trainAcc: number | null = null;
    if (cell(5).trim() !== '') {
      const v = parseNumberText(cell(5));
      if (v === undefined || !Number.isFinite(v) || v < 0 || v > 1) throw bad(5, 'empty or a number in [0, 1]');
      trainAcc = v;
    }
    let valMiou: number | null = null;
    if (cell(6).trim() !== '') {
      const v = parseNumberText(cell(6));
      if (v === undefined || !Number.isFinite(v) || v < 0 || v > 1)
        throw bad(6, 'empty (no evaluation at this iteration) or a number in [0, 1]');
      valMiou = v;
    }
    let lr: number | null = null;
    if (columns > 7 && cell(7).trim() !== '') {
      const v = parseNumberText(cell(7));
      if (v === undefined || !Number.isFinite(v) || v < 0) throw bad(7, 'empty or a learning rate >= 0');
      lr = v;
    }
    const key = JSON.stringify([head, lr, seed, iter]);
    const first = seen.get(key);
    if (first !== undefined) {
      throw new SegError(
        `${at}: head '${head}'${lr === null ? '' : ` lr ${lr}`} seed ${seed} iteration ${iter} already appears on line ${first}; each run logs an iteration once`,
        file,
      );
    }
    seen.set(key, record.line);
    rows.push({ head, seed, iter, wall_s: wall, loss, train_acc: trainAcc, val_miou: valMiou, lr });
    lines.push(record.line);
  }
  checkDivergenceRows(rows, lines, file);
  return rows;
}

/** A non-finite loss marks the step where a run diverged (seg writes it as the run's last row): anywhere else it is damage. */
function checkDivergenceRows(rows: readonly TraceCsvRow[], lines: readonly number[], file: string): void {
  const last = new Map<string, number>();
  rows.forEach((r, i) => {
    const key = JSON.stringify([r.head, r.lr, r.seed]);
    const at = last.get(key);
    if (at === undefined || r.iter > (rows[at] as TraceCsvRow).iter) last.set(key, i);
  });
  rows.forEach((r, i) => {
    if (r.loss === null || Number.isFinite(r.loss)) return;
    const j = last.get(JSON.stringify([r.head, r.lr, r.seed])) as number;
    if (j === i) return;
    const after = rows[j] as TraceCsvRow;
    throw new SegError(
      `${file}: line ${lines[i]}: loss is '${r.loss}' (a diverged step), but head '${r.head}'${r.lr === null ? '' : ` lr ${r.lr}`} seed ${r.seed} ` +
        `has a row after it (line ${lines[j]}, iteration ${after.iter}); a non-finite loss must be its run's last row`,
      file,
    );
  });
}

/** Rows grouped by head (first-appearance order), then seed (ascending), sorted by iteration. */
export function groupTraceRuns(rows: readonly TraceCsvRow[]): Map<string, Map<number, TraceCsvRow[]>> {
  const heads = new Map<string, Map<number, TraceCsvRow[]>>();
  for (const row of rows) {
    let seeds = heads.get(row.head);
    if (seeds === undefined) {
      seeds = new Map();
      heads.set(row.head, seeds);
    }
    let run = seeds.get(row.seed);
    if (run === undefined) {
      run = [];
      seeds.set(row.seed, run);
    }
    run.push(row);
  }
  for (const [head, seeds] of heads) {
    const sorted = new Map([...seeds.entries()].sort((a, b) => a[0] - b[0]));
    for (const run of sorted.values()) run.sort((a, b) => a.iter - b.iter);
    heads.set(head, sorted);
  }
  return heads;
}

export function readTraceCsv(path: string): TraceCsvRow[] {
  if (!existsSync(path)) throw new SegError(`${path}: not found (seg trace writes it)`, path);
  return parseTraceCsv(readFileSync(path, 'utf8'), path);
}

/** Writes atomically (temp file + rename): a reader never sees half a file. */
export function writeTraceCsv(path: string, rows: readonly TraceCsvRow[]): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileAtomic(path, formatTraceCsv(rows));
}

/** One training configuration of a trace: a head at a learning rate, with its runs per seed. */
export interface TraceConfigRuns {
  head: string;
  /** Null for a trace.csv without the lr column. */
  lr: number | null;
  /** Runs by seed (ascending), each sorted by iteration. */
  seeds: Map<number, TraceCsvRow[]>;
}

/** A head and its lr as one label, e.g. `egb:pow3 lr=0.03` (the head alone when the lr is unknown). */
export function configLabel(head: string, lr: number | null): string {
  return lr === null ? head : `${head} lr=${lr}`;
}

/** Rows grouped by (head, lr): heads in first-appearance order, each head's lrs ascending. */
export function groupTraceConfigs(rows: readonly TraceCsvRow[]): TraceConfigRuns[] {
  const byHead = new Map<string, Map<number | null, TraceCsvRow[]>>();
  for (const row of rows) {
    let lrs = byHead.get(row.head);
    if (lrs === undefined) {
      lrs = new Map();
      byHead.set(row.head, lrs);
    }
    let list = lrs.get(row.lr);
    if (list === undefined) {
      list = [];
      lrs.set(row.lr, list);
    }
    list.push(row);
  }
  const configs: TraceConfigRuns[] = [];
  for (const [head, lrs] of byHead) {
    const sorted = [...lrs.entries()].sort((a, b) => (a[0] ?? -1) - (b[0] ?? -1));
    for (const [lr, list] of sorted) {
      const seeds = groupTraceRuns(list).get(head) as Map<number, TraceCsvRow[]>;
      configs.push({ head, lr, seeds });
    }
  }
  return configs;
}

/** Where a run diverged: the iteration of its non-finite loss row, or null. */
export function divergedAt(run: readonly TraceCsvRow[]): number | null {
  const bad = run.find((r) => r.loss !== null && !Number.isFinite(r.loss));
  return bad === undefined ? null : bad.iter;
}
