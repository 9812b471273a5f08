import { describe, expect, it } from 'vitest';
import { printable } from '../../src/core/printable.js';
import { formatCheckReport, type CheckReport } from '../../src/datasets/dataset-check.js';

describe('printable', () => {
  it('escapes control characters and leaves ordinary text, spaces and Unicode alone', () => {
    expect(printable('photo 1.jpg')).toBe('photo 1.jpg');
    expect(printable('été/日本.png')).toBe('été/日本.png');
    expect(printable('a\nb\tc\r')).toBe('a\\nb\\tc\\r');
    expect(printable('\u001b[2Jclear.png')).toBe('\\x1b[2Jclear.png');
    expect(printable('x\u0007\u007f\u009b')).toBe('x\\x07\\x7f\\x9b');
  });

  it('is used for file names in the data check report', () => {
    const report: CheckReport = {
      root: '/data',
      split: 'train',
      listed: 1,
      images: 0,
      sizes: null,
      classes: [],
      void_pixels: 0,
      problems: [{ id: 'evil\u001b[2J', file: '/data/evil\u001b[2J.png\nforged line', problem: 'label file not found' }],
    };
    const text = formatCheckReport(report);
    expect(text).not.toContain('\u001b');
    expect(text).toContain('evil\\x1b[2J.png\\nforged line');
    expect(text.split('\n').filter((l) => l.includes('forged'))).toHaveLength(1);
  });
});
