/** MAT-file reading against files written by scipy (tools/make_voc_fixtures.py). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type MatValue, matToRowMajorBytes, parseMat } from '../../src/file-readers/mat-file.js';
import { SegError } from '../../src/core/errors.js';

const MAT = path.join(__dirname, '..', 'fixtures', 'voc', 'mat');
const read = (name: string): Map<string, MatValue> => parseMat(fs.readFileSync(path.join(MAT, name)), name);
const expected = JSON.parse(fs.readFileSync(path.join(MAT, 'expected.json'), 'utf8')) as {
  gtcls: { segmentation: number[][]; category: number };
};

/** The values of a numeric array, whatever its class. */
function vals(data: unknown): (number | bigint)[] {
  return Array.from(data as ArrayLike<number | bigint>);
}

function numeric(v: MatValue | undefined): Extract<MatValue, { kind: 'numeric' }> {
  if (v?.kind !== 'numeric') throw new Error(`not numeric: ${v?.kind}`);
  return v;
}

describe('MAT-files (level 5)', () => {
  it.each(['gtcls.mat', 'gtcls_plain.mat'])('reads an SBD GTcls struct (%s): Segmentation as a row-major label map', (name) => {
    const gt = read(name).get('GTcls');
    expect(gt?.kind).toBe('struct');
    if (gt?.kind !== 'struct') return;
    expect(gt.fields.sort()).toEqual(['Boundaries', 'CategoriesPresent', 'Segmentation']);
    const seg = gt.elements[0]?.get('Segmentation') as MatValue;
    expect(numeric(seg)).toMatchObject({ class: 'uint8', dims: [7, 5] });
    const label = matToRowMajorBytes(seg, 'GTcls.Segmentation', name);
    expect({ width: label.width, height: label.height }).toEqual({ width: 5, height: 7 });
    expect(Array.from(label.data)).toEqual(expected.gtcls.segmentation.flat());
    const boundaries = gt.elements[0]?.get('Boundaries');
    expect(boundaries?.kind).toBe('cell');
    if (boundaries?.kind !== 'cell') return;
    expect(boundaries.dims).toEqual([20, 1]);
    const marked = boundaries.cells[expected.gtcls.category - 1];
    expect(marked?.kind).toBe('sparse');
    if (marked?.kind === 'sparse') {
      expect(marked.dims).toEqual([7, 5]);
      expect(Array.from(marked.rowIndices)).toEqual([1, 1, 1, 1, 1]); // row 7 // 4 = 1 in every column
      expect(Array.from(marked.columnStarts)).toEqual([0, 1, 2, 3, 4, 5]);
    }
    expect(vals(numeric(gt.elements[0]?.get('CategoriesPresent')).real)).toEqual([expected.gtcls.category]);
  });

  it('reads every kind of array scipy writes, column-major', () => {
    const m = read('kinds.mat');
    expect(numeric(m.get('d'))).toMatchObject({ class: 'double', dims: [2, 3] });
    expect(vals(numeric(m.get('d')).real)).toEqual([1, 4, 2, 5, 3, 6.5]);
    expect(vals(numeric(m.get('s')).real)).toEqual([0.25]);
    expect(numeric(m.get('s')).class).toBe('single');
    expect(vals(numeric(m.get('i16')).real)).toEqual([-300, 7]);
    expect(vals(numeric(m.get('u32')).real)).toEqual([4000000000]);
    expect(vals(numeric(m.get('i64')).real)).toEqual([-(2n ** 40n)]);
    expect(numeric(m.get('b'))).toMatchObject({ logical: true, dims: [1, 3] });
    expect(vals(numeric(m.get('b')).real)).toEqual([1, 0, 1]);
    const z = numeric(m.get('z'));
    expect([vals(z.real), vals(z.imag ?? [])]).toEqual([
      [1, -0],
      [2, -3.5],
    ]);
    expect(m.get('txt')).toEqual({ kind: 'char', dims: [1, 10], text: 'hello, MAT' });
    const cell = m.get('cell');
    expect(cell?.kind === 'cell' && cell.cells.map((c) => c.kind)).toEqual(['numeric', 'char']);
    const people = m.get('people');
    expect(people?.kind === 'struct' && people.dims).toEqual([1, 2]);
    if (people?.kind === 'struct') {
      expect(people.elements.map((e) => (e.get('name') as { text: string }).text)).toEqual(['ada', 'alan']);
      expect(people.elements.map((e) => Number(numeric(e.get('age')).real[0]))).toEqual([36, 41]);
    }
    const sp = m.get('sp');
    expect(sp?.kind).toBe('sparse');
    if (sp?.kind === 'sparse') {
      expect({ rows: Array.from(sp.rowIndices), starts: Array.from(sp.columnStarts), values: Array.from(sp.values) }).toEqual({
        rows: [1, 0],
        starts: [0, 1, 2, 2],
        values: [2, 1.5],
      });
    }
    expect(numeric(m.get('empty')).dims).toEqual([0, 3]);
  });

  it('refuses v4 files, HDF5 (v7.3) files and truncated files, naming the file', () => {
    expect(() => read('v4.mat')).toThrow(/v4\.mat: not a level-5 MAT-file .*MATLAB v4/);
    const hdf5 = Buffer.alloc(512);
    hdf5.write('MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 .', 0, 'latin1');
    hdf5.writeUInt16LE(0x0200, 124);
    hdf5.write('IM', 126, 'latin1');
    expect(() => parseMat(hdf5, 'new.mat')).toThrow(/new\.mat: a MAT-file v7\.3 \(HDF5\)/);
    for (const name of ['gtcls.mat', 'gtcls_plain.mat']) {
      const bytes = fs.readFileSync(path.join(MAT, name));
      for (const keep of [100, 140, Math.floor(bytes.length / 2), bytes.length - 3]) {
        expect(() => parseMat(bytes.subarray(0, keep), `cut-${name}`), `${name} at ${keep}`).toThrow(SegError);
      }
    }
  });

  it('refuses a label map that is not 0..255 integers', () => {
    const m = read('kinds.mat');
    expect(() => matToRowMajorBytes(m.get('d') as MatValue, 'd', 'kinds.mat')).toThrow(
      /kinds\.mat: d holds 6\.5 at row 2, column 3; expected integers 0\.\.255/,
    );
    expect(() => matToRowMajorBytes(m.get('txt') as MatValue, 'txt', 'kinds.mat')).toThrow(/not a real 2-D numeric array/);
  });
});
