import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SegError } from '../../src/core/errors.js';
import { planPredictOutputs, prepareTarget, writeReplacing } from '../../src/inference/predict-paths.js';
import { removeTempDirs, tempDir } from '../voc/fixtures.js';

afterAll(removeTempDirs);

function touch(path: string, text = 'img'): void {
  writeFileSync(path, text);
}

describe('planPredictOutputs', () => {
  it('mirrors subfolders and gives photo.jpg and photo.png distinct names', () => {
    const dir = tempDir('seg-paths-');
    const input = join(dir, 'in');
    mkdirSync(join(input, 'sub'), { recursive: true });
    for (const f of ['photo.jpg', 'photo.png', 'sub/photo.jpg', 'solo.webp', 'notes.txt']) touch(join(input, f));
    const out = join(dir, 'out');
    const plan = planPredictOutputs([input], out);
    expect(plan.images.map((i) => [i.file, i.mask])).toEqual([
      [join(input, 'photo.jpg'), join(out, 'photo.jpg.png')],
      [join(input, 'photo.png'), join(out, 'photo.png.png')],
      [join(input, 'solo.webp'), join(out, 'solo.png')],
      [join(input, 'sub', 'photo.jpg'), join(out, 'sub', 'photo.png')],
    ]);
    expect(plan.images[3]?.overlay).toBe(join(out, 'sub', 'photo_overlay.jpg'));
    expect(plan.skipped).toEqual([join(input, 'notes.txt')]);
    // Two inputs with the same relative path: numbered in input order.
    const other = join(dir, 'other');
    mkdirSync(other);
    touch(join(other, 'solo.jpg'));
    const masks = planPredictOutputs([input, other], out).images.map((i) => i.mask);
    expect(masks).toContain(join(out, 'solo.webp.png'));
    expect(masks).toContain(join(out, 'solo.jpg.png'));
    expect(new Set(masks).size).toBe(masks.length);
  });

  it('refuses an output folder that is or lies inside an input folder, also through a symlink', () => {
    const dir = tempDir('seg-paths-');
    const input = join(dir, 'in2');
    mkdirSync(input);
    touch(join(input, 'a.png'));
    symlinkSync(input, join(dir, 'link2'));
    expect(() => planPredictOutputs([input], join(dir, 'link2'))).toThrow(/is the input folder/);
    expect(() => planPredictOutputs([input], join(input, 'masks'))).toThrow(/lies inside the input folder/);
    expect(() => planPredictOutputs([join(dir, 'link2')], join(input, 'deep', 'masks'))).toThrow(SegError);
    // Listed files may share the output folder; the write onto an input is refused per file.
    const plan = planPredictOutputs([join(input, 'a.png')], join(dir, 'link2'));
    expect(() => prepareTarget(plan.images[0]?.mask as string, plan)).toThrow(/is one of the inputs/);
  });

  it('skips the output folder while walking (a second run does not read its own masks)', () => {
    const dir = tempDir('seg-paths-');
    const input = join(dir, 'in');
    mkdirSync(join(input, 'masks'), { recursive: true });
    touch(join(input, 'a.jpg'));
    touch(join(input, 'masks', 'a.png'));
    symlinkSync(join(input, 'masks'), join(dir, 'masks-link'));
    const plan = planPredictOutputs([join(input, 'a.jpg')], join(input, 'masks'));
    expect(plan.images.map((i) => i.file)).toEqual([join(input, 'a.jpg')]);
    // Walking a folder that contains the output's real folder under another name skips it too.
    const outside = join(dir, 'walk');
    mkdirSync(outside);
    touch(join(outside, 'b.jpg'));
    symlinkSync(join(input, 'masks'), join(outside, 'old-masks'));
    const walked = planPredictOutputs([outside], join(dir, 'masks-link'));
    expect(walked.images.map((i) => i.file)).toEqual([join(outside, 'b.jpg')]);
  });

  it('reports dangling symlinks, loops and special files one line each, and an --output that is a file', () => {
    const dir = tempDir('seg-paths-');
    const input = join(dir, 'in');
    mkdirSync(join(input, 'deep'), { recursive: true });
    touch(join(input, 'ok.jpg'));
    symlinkSync(join(dir, 'missing.jpg'), join(input, 'dangling.jpg'));
    symlinkSync(join(input, 'self.jpg'), join(input, 'self.jpg'));
    symlinkSync(input, join(input, 'deep', 'up'));
    mkfifoSafe(join(input, 'pipe.png'));
    const plan = planPredictOutputs([input], join(dir, 'out'));
    expect(plan.images.map((i) => i.file)).toEqual([join(input, 'ok.jpg')]);
    const byFile = Object.fromEntries(plan.problems.map((p) => [p.file, p.problem]));
    expect(byFile[join(input, 'dangling.jpg')]).toMatch(/dangling symlink/);
    expect(byFile[join(input, 'self.jpg')]).toMatch(/symlink loop/);
    expect(byFile[join(input, 'deep', 'up')]).toMatch(/symlink loop/);
    expect(byFile[join(input, 'pipe.png')]).toMatch(/not a regular file/);
    touch(join(dir, 'file-out'));
    expect(() => planPredictOutputs([input], join(dir, 'file-out'))).toThrow(/is an existing file, not a folder/);
    expect(() => planPredictOutputs([join(input, 'dangling.jpg')], join(dir, 'out'))).toThrow(/--input .*dangling symlink/);
    expect(() => planPredictOutputs([join(dir, 'nope')], join(dir, 'out'))).toThrow(/no such file or folder/);
  });

  it('writeReplacing replaces a symlink at the target and leaves its target alone', () => {
    const dir = tempDir('seg-paths-');
    touch(join(dir, 'photo.png'), 'photo');
    symlinkSync(join(dir, 'photo.png'), join(dir, 'mask.png'));
    writeReplacing(join(dir, 'mask.png'), Buffer.from('mask'));
    expect(readFileSync(join(dir, 'photo.png'), 'utf8')).toBe('photo');
    expect(readFileSync(join(dir, 'mask.png'), 'utf8')).toBe('mask');
  });
});

function mkfifoSafe(path: string): void {
  execFileSync('mkfifo', [path]);
}
