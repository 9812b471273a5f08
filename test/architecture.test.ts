import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

/** The folders of src/, bottom-up: each may import only from itself and the folders before it. */
const LAYERS = [
  'core',
  'backend',
  'nn',
  'backbones',
  'decoders',
  'image',
  'file-readers',
  'datasets',
  'data-loading',
  'dataset-makers',
  'heads',
  'metrics',
  'segmentation',
  'checkpoint',
  'export',
  'inference',
  'training',
  'bench',
  'visualization',
  'experiments',
  'report',
  'cli',
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

describe('architecture', () => {
  const src = join(__dirname, '..', 'src');
  const files = sourceFiles(src).filter((f) => dirname(f) !== src);

  it('every source folder is a known layer', () => {
    for (const file of files) expect(LAYERS, file).toContain(relative(src, file).split(sep)[0]);
  });

  it('imports flow downward: no folder imports a later folder or src/ itself', () => {
    const violations: string[] = [];
    for (const file of files) {
      const layer = relative(src, file).split(sep)[0] as string;
      for (const match of readFileSync(file, 'utf8').matchAll(/from\s+'(\.{1,2}\/[^']+)'/g)) {
        const target = relative(src, normalize(join(dirname(file), match[1] as string)));
        const targetLayer = target.split(sep)[0] as string;
        if (!target.includes(sep) || LAYERS.indexOf(targetLayer) > LAYERS.indexOf(layer)) {
          violations.push(`${relative(src, file)} imports ${target}`);
        }
      }
    }
    expect(violations).toEqual([]);
  });

  it('no file imports itself through a chain of relative imports (type imports included)', () => {
    const graph = new Map<string, string[]>();
    for (const file of sourceFiles(src)) {
      const targets: string[] = [];
      for (const match of readFileSync(file, 'utf8').matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
        targets.push(normalize(join(dirname(file), (match[1] as string).replace(/\.js$/, '.ts'))));
      }
      graph.set(
        file,
        targets.filter((t) => t !== file),
      );
    }
    // Depth-first search; a back edge closes a circle, reported as the chain of files.
    const state = new Map<string, 'open' | 'done'>();
    const circles: string[] = [];
    const stack: string[] = [];
    const visit = (file: string): void => {
      state.set(file, 'open');
      stack.push(file);
      for (const next of graph.get(file) ?? []) {
        if (!graph.has(next)) continue;
        if (state.get(next) === 'open') {
          circles.push([...stack.slice(stack.indexOf(next)), next].map((f) => relative(src, f)).join(' -> '));
        } else if (state.get(next) === undefined) visit(next);
      }
      stack.pop();
      state.set(file, 'done');
    };
    for (const file of [...graph.keys()].sort()) if (state.get(file) === undefined) visit(file);
    expect(circles).toEqual([]);
  });
});
