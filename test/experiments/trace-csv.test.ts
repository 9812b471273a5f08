import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SegError } from '../../src/core/errors.js';
import {
  TRACE_CSV_HEADER,
  TRACE_CSV_HEADER_WITHOUT_LR,
  configLabel,
  divergedAt,
  formatTraceCsv,
  groupTraceConfigs,
  groupTraceRuns,
  parseTraceCsv,
  readTraceCsv,
  writeTraceCsv,
  type TraceCsvRow,
} from '../../src/experiments/trace-csv.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function row(head: string, seed: number, iter: number, extra: Partial<TraceCsvRow> = {}): TraceCsvRow {
  return { head, seed, iter, wall_s: iter * 0.5, loss: 1 / (iter + 1), train_acc: 0.5, val_miou: null, lr: null, ...extra };
}

function parseError(text: string): string {
  try {
    parseTraceCsv(text, 'runs/t/trace.csv');
  } catch (err) {
    expect(err).toBeInstanceOf(SegError);
    return (err as Error).message;
  }
  throw new Error('expected a SegError');
}

describe('trace.csv', () => {
  it('round-trips heads with commas and quotes, nulls, NaN loss and tiny numbers', () => {
    const rows: TraceCsvRow[] = [
      row('softmax', 0, 0, { val_miou: 0.125, train_acc: null }),
      row('egb:exp:alpha=0.3,beta=0', 1, 10, { val_miou: 1, wall_s: 1.2345678901234567, lr: 0.03 }),
      row('odd "name",x', 2, 20, { loss: NaN, train_acc: 1e-7 }),
      row('egb:pow3', 0, 30, { loss: Infinity }),
    ];
    const text = formatTraceCsv(rows);
    const lines = text.split('\n');
    expect(lines[0]).toBe(TRACE_CSV_HEADER);
    expect(lines[0]).toBe('head,seed,iter,wall_s,loss,train_acc,val_miou,lr');
    expect(lines[1]).toBe('softmax,0,0,0,1,,0.125,');
    expect(lines[2]).toBe('"egb:exp:alpha=0.3,beta=0",1,10,1.2345678901234567,0.09090909090909091,0.5,1,0.03');
    expect(lines[3]).toBe('"odd ""name"",x",2,20,10,NaN,1e-7,,');
    expect(text.endsWith('\n')).toBe(true);
    const back = parseTraceCsv(text, 'x.csv');
    expect(back).toEqual(rows);
  });

  it('reads CRLF line ends, a BOM, blank lines and a last line without newline, in a file written before the lr column', () => {
    const text = `\uFEFF${TRACE_CSV_HEADER_WITHOUT_LR}\r\n"egb:exp:alpha=0.3,beta=0",0,5,1.5,0.25,0.75,0.5\r\n\r\nsoftmax,3,7,2,0.5,,`;
    expect(parseTraceCsv(text, 'x.csv')).toEqual([
      { head: 'egb:exp:alpha=0.3,beta=0', seed: 0, iter: 5, wall_s: 1.5, loss: 0.25, train_acc: 0.75, val_miou: 0.5, lr: null },
      { head: 'softmax', seed: 3, iter: 7, wall_s: 2, loss: 0.5, train_acc: null, val_miou: null, lr: null },
    ]);
  });

  it('keeps runs of one head at different lrs apart, and finds where a run diverged', () => {
    const text = `${TRACE_CSV_HEADER}\nsoftmax,0,10,1,0.5,,0.2,0.1\nsoftmax,0,10,1,0.4,,0.3,0.01\nsoftmax,0,20,2,NaN,,,0.1\negb,0,10,1,0.3,,,0.01\n`;
    const rows = parseTraceCsv(text, 'x.csv');
    const configs = groupTraceConfigs(rows);
    expect(configs.map((c) => [c.head, c.lr, [...c.seeds.keys()], [...c.seeds.values()].map((r) => r.length)])).toEqual([
      ['softmax', 0.01, [0], [1]],
      ['softmax', 0.1, [0], [2]],
      ['egb', 0.01, [0], [1]],
    ]);
    expect(divergedAt(configs[1]?.seeds.get(0) ?? [])).toBe(20);
    expect(divergedAt(configs[0]?.seeds.get(0) ?? [])).toBeNull();
    expect(configLabel('softmax', 0.1)).toBe('softmax lr=0.1');
    expect(configLabel('softmax', null)).toBe('softmax');
    expect(parseError(`${TRACE_CSV_HEADER}\nsoftmax,0,1,0,1,,,fast\n`)).toMatch(
      /line 2: lr is 'fast', expected empty or a learning rate >= 0/,
    );
    expect(parseError(`${TRACE_CSV_HEADER}\nsoftmax,0,1,0,1,,,0.1\nsoftmax,0,1,0,1,,,0.1\n`)).toMatch(
      /line 3: head 'softmax' lr 0.1 seed 0 iteration 1 already appears on line 2/,
    );
  });

  it('an evaluation row without a logged training step has an empty loss (not a divergence)', () => {
    const text = `${TRACE_CSV_HEADER}\nsoftmax,0,5,1,0.5,0.5,,0.1\nsoftmax,0,7,1.4,,,0.25,0.1\nsoftmax,0,10,2,0.4,0.6,,0.1\n`;
    const rows = parseTraceCsv(text, 'x.csv');
    expect(rows[1]).toEqual({ head: 'softmax', seed: 0, iter: 7, wall_s: 1.4, loss: null, train_acc: null, val_miou: 0.25, lr: 0.1 });
    expect(formatTraceCsv(rows)).toBe(text);
    expect(divergedAt(rows)).toBeNull();
  });

  it('refuses a non-finite value, naming the line: a NaN would change the comparison', () => {
    const h = `${TRACE_CSV_HEADER}\n`;
    expect(parseError(`${h}softmax,0,10,1,0.5,,NaN,0.1\n`)).toMatch(
      /line 2: val_miou is 'NaN', expected empty \(no evaluation at this iteration\) or a number in \[0, 1\]/,
    );
    expect(parseError(`${h}softmax,0,10,1,0.5,nan,,0.1\n`)).toMatch(/line 2: train_acc is 'nan', expected empty or a number in \[0, 1\]/);
    expect(parseError(`${h}softmax,0,10,1,0.5,,Infinity,0.1\n`)).toMatch(/line 2: val_miou is 'Infinity'/);
    // A non-finite loss marks where a run diverged: only as the run's last row.
    expect(parseError(`${h}softmax,0,10,1,NaN,,,0.1\negb,0,10,1,0.5,,,0.1\nsoftmax,0,20,2,0.4,,0.3,0.1\n`)).toMatch(
      /line 2: loss is 'NaN' \(a diverged step\), but head 'softmax' lr 0\.1 seed 0 has a row after it \(line 4, iteration 20\); a non-finite loss must be its run's last row/,
    );
    expect(parseTraceCsv(`${h}softmax,0,10,1,0.5,,0.2,0.1\nsoftmax,0,20,2,NaN,,,0.1\n`, 'x.csv')[1]?.loss).toBeNaN();
  });

  it('rejects malformed files with the file and line', () => {
    expect(parseError('')).toMatch(/runs\/t\/trace\.csv: empty file/);
    expect(parseError('head,seed,iter,loss\n')).toMatch(
      /line 1: header is 'head,seed,iter,loss', expected 'head,seed,iter,wall_s,loss,train_acc,val_miou,lr'/,
    );
    const h = `${TRACE_CSV_HEADER_WITHOUT_LR}\nsoftmax,0,0,0,1,,\n`;
    expect(parseError(`${h}egb:exp:alpha=0.3,beta=0,0,1,0,1,,\n`)).toMatch(/line 3: 8 fields, expected 7 .*quote a head/);
    expect(parseError(`${h}softmax,zero,1,0,1,,\n`)).toMatch(/line 3: seed is 'zero', expected an integer >= 0/);
    expect(parseError(`${h}softmax,0,1.5,0,1,,\n`)).toMatch(/line 3: iter is '1.5', expected an integer >= 0/);
    expect(parseError(`${h}softmax,0,2,-1,1,,\n`)).toMatch(/line 3: wall_s is '-1'/);
    expect(parseError(`${h}softmax,0,2,0,0x10,,\n`)).toMatch(/line 3: loss is '0x10'/);
    expect(parseError(`${h}softmax,0,2,0,1,,1.5\n`)).toMatch(/line 3: val_miou is '1.5', expected empty .* or a number in \[0, 1\]/);
    expect(parseError(`${h}softmax,0,2,0,1,2,\n`)).toMatch(/line 3: train_acc is '2'/);
    expect(parseError(`${h},0,2,0,1,,\n`)).toMatch(/line 3: head is ''/);
    expect(parseError(`${h}"softmax,0,2,0,1,,\n`)).toMatch(/line 3: a quoted field is never closed/);
    expect(parseError(`${h}"soft"max,0,2,0,1,,\n`)).toMatch(/line 3: unexpected text after a closing quote/);
    expect(parseError(`${h}soft"max,0,2,0,1,,\n`)).toMatch(/line 3: a '"' inside an unquoted field/);
    expect(parseError(`${h}egb,0,4,0,1,,\nsoftmax,0,0,1,1,,\n`)).toMatch(
      /line 4: head 'softmax' seed 0 iteration 0 already appears on line 2/,
    );
  });

  it('writes atomically and reads back; a missing file is a SegError', () => {
    const dir = mkdtempSync(join(tmpdir(), 'seg-trace-csv-'));
    dirs.push(dir);
    const file = join(dir, 'sub', 'trace.csv');
    const rows = [row('softmax', 0, 0), row('egb:pow3', 0, 0, { val_miou: 0.3 })];
    writeTraceCsv(file, rows);
    expect(readdirSync(join(dir, 'sub'))).toEqual(['trace.csv']);
    expect(readFileSync(file, 'utf8').startsWith(`${TRACE_CSV_HEADER}\n`)).toBe(true);
    expect(readTraceCsv(file)).toEqual(rows);
    expect(() => readTraceCsv(join(dir, 'nope.csv'))).toThrow(/nope\.csv: not found/);
  });

  it('groups interleaved rows by head (first appearance), seed (ascending) and iteration', () => {
    const rows = [row('egb', 1, 20), row('softmax', 0, 10), row('egb', 0, 10), row('egb', 1, 10), row('softmax', 0, 0)];
    const groups = groupTraceRuns(rows);
    expect([...groups.keys()]).toEqual(['egb', 'softmax']);
    expect([...(groups.get('egb') as Map<number, TraceCsvRow[]>).keys()]).toEqual([0, 1]);
    expect(
      groups
        .get('egb')
        ?.get(1)
        ?.map((r) => r.iter),
    ).toEqual([10, 20]);
    expect(
      groups
        .get('softmax')
        ?.get(0)
        ?.map((r) => r.iter),
    ).toEqual([0, 10]);
  });
});
