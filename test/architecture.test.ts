import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

/** The folders of src/, bottom-up: each may import only from itself and the folders before it. */
const LAYERS = [
  'core',
  'engine',
  'nn',
  'backbones',
  'decoders',
  'voc',
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
});
