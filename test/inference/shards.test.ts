import { describe, expect, it } from 'vitest';
import { compareCodeUnits, parseShardSpec, resolveShard, selectShard, shardRange } from '../../src/inference/shards.js';

describe('selectShard', () => {
  it('cuts every list of 0..20 items into n = 1..7 contiguous, disjoint shares whose union is the list', () => {
    for (let length = 0; length <= 20; length++) {
      const items = Array.from({ length }, (_, i) => `item-${i}`);
      for (let count = 1; count <= 7; count++) {
        const shares = Array.from({ length: count }, (_, index) => selectShard(items, { index, count }));
        // concatenated in shard order they give back the list: contiguous, disjoint and complete
        expect(shares.flat(), `${length} items, ${count} shards`).toEqual(items);
        const seen = new Set(shares.flat());
        expect(seen.size).toBe(length);
        const sizes = shares.map((s) => s.length);
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
        // the larger shares come first (as numpy.array_split): sizes never grow with the index
        for (let i = 1; i < count; i++) expect(sizes[i]).toBeLessThanOrEqual(sizes[i - 1] as number);
      }
    }
  });

  it('gives hand-computed ranges and the whole list without a shard', () => {
    expect([0, 1, 2].map((index) => shardRange(10, { index, count: 3 }))).toEqual([
      { start: 0, end: 4 },
      { start: 4, end: 7 },
      { start: 7, end: 10 },
    ]);
    expect(selectShard(['a', 'b'], { index: 3, count: 5 })).toEqual([]);
    expect(selectShard(['a', 'b'], undefined)).toEqual(['a', 'b']);
  });
});

describe('parseShardSpec / resolveShard', () => {
  it('parses i/n and refuses bad values naming the flag or variable', () => {
    expect(parseShardSpec('2/5')).toEqual({ index: 2, count: 5 });
    expect(parseShardSpec(' 0 / 1 ')).toEqual({ index: 0, count: 1 });
    const bad: [string, RegExp][] = [
      ['3/3', /--shard: got '3\/3', the shard index must be in 0..2/],
      ['1/0', /--shard: got '1\/0', the shard count must be an integer >= 1/],
      ['0/0', /count must be an integer >= 1/],
      ['-1/3', /--shard: got '-1\/3', expected i\/n/],
      ['a/b', /expected i\/n/],
      ['1', /expected i\/n/],
      ['1/2/3', /expected i\/n/],
      ['1.5/3', /expected i\/n/],
      ['', /expected i\/n/],
    ];
    for (const [text, message] of bad) expect(() => parseShardSpec(text), text).toThrow(message);
    expect(() => parseShardSpec('4/2', 'SEG_SHARD')).toThrow(/^SEG_SHARD: got '4\/2'/);
  });

  it('takes --shard, else --shards with JOB_COMPLETION_INDEX, else SEG_SHARD', () => {
    const env = { SEG_SHARD: '1/4', JOB_COMPLETION_INDEX: '2' };
    expect(resolveShard({ shard: '0/2', env })).toEqual({ index: 0, count: 2 });
    expect(resolveShard({ shards: 3, env })).toEqual({ index: 2, count: 3 });
    expect(resolveShard({ env })).toEqual({ index: 1, count: 4 });
    expect(resolveShard({ env: {} })).toBeUndefined();
    expect(resolveShard({ env: { SEG_SHARD: '' } })).toBeUndefined();
    expect(() => resolveShard({ env: { SEG_SHARD: '2' } })).toThrow(/^SEG_SHARD: got '2'/);
    expect(() => resolveShard({ shards: 3, env: {} })).toThrow(/--shards 3: JOB_COMPLETION_INDEX is not set/);
    expect(() => resolveShard({ shards: 2, env: { JOB_COMPLETION_INDEX: '2' } })).toThrow(
      /^JOB_COMPLETION_INDEX: got '2 with --shards 2', the shard index must be in 0..1/,
    );
    expect(() => resolveShard({ shards: 2, env: { JOB_COMPLETION_INDEX: 'x' } })).toThrow(/^JOB_COMPLETION_INDEX: got 'x'/);
    expect(() => resolveShard({ shard: '0/2', shards: 2, env })).toThrow(/--shard and --shards: pass one of them/);
  });
});

describe('compareCodeUnits', () => {
  it('orders by code units, not by locale', () => {
    const names = ['b.jpg', 'B.jpg', 'a.jpg', '_x.jpg', 'Z.jpg', 'a/b.jpg', 'a-c.jpg', 'é.jpg', 'e.jpg'];
    // '-' 0x2d < '.' 0x2e < '/' 0x2f < 'B' < 'Z' < '_' < 'a' < 'b' < 'e' < 'é' 0xe9
    expect([...names].sort(compareCodeUnits)).toEqual([
      'B.jpg',
      'Z.jpg',
      '_x.jpg',
      'a-c.jpg',
      'a.jpg',
      'a/b.jpg',
      'b.jpg',
      'e.jpg',
      'é.jpg',
    ]);
  });
});
