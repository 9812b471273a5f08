import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SegError } from '../../src/core/errors.js';
import { planPredictOutputs, prepareTarget, refuseForeignTargets, writeReplacing } from '../../src/inference/predict-paths.js';
import { markMaskPng } from '../../src/inference/predict-marker.js';
import { encodeLabelPng } from '../../src/image/label-png.js';
import { removeTempDirs, tempDir } from '../datasets/fixtures.js';

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

  it('refuses an input folder that is or lies inside the output folder (its subfolders would be skipped as output)', () => {
    const dir = tempDir('seg-paths-');
    const photos = join(dir, 'P', 'photos');
    mkdirSync(join(photos, 'sub'), { recursive: true });
    touch(join(photos, 'a.jpg'));
    touch(join(photos, 'sub', 'b.jpg'));
    expect(() => planPredictOutputs([photos], join(dir, 'P'))).toThrow(
      /--input .*photos lies inside --output .*P; .*choose an output folder outside/,
    );
    // Listed files inside the output folder are fine: nothing is walked.
    const plan = planPredictOutputs([join(photos, 'a.jpg'), join(photos, 'sub', 'b.jpg')], join(dir, 'P'));
    expect(plan.images.map((i) => i.mask)).toEqual([join(dir, 'P', 'a.png'), join(dir, 'P', 'b.png')]);
  });

  it('says which folders it skipped as lying inside the output (never silently)', () => {
    const dir = tempDir('seg-paths-');
    const input = join(dir, 'in');
    mkdirSync(input);
    touch(join(input, 'a.jpg'));
    mkdirSync(join(dir, 'out'));
    symlinkSync(join(dir, 'out'), join(input, 'old-masks'));
    const plan = planPredictOutputs([input], join(dir, 'out'));
    expect(plan.images.map((i) => i.file)).toEqual([join(input, 'a.jpg')]);
    expect(plan.excluded).toEqual([{ file: join(input, 'old-masks'), problem: expect.stringMatching(/inside --output/) }]);
  });

  it('refuses, before anything is written, a mask or overlay path that holds a file seg did not write', () => {
    const dir = tempDir('seg-paths-');
    const in6 = join(dir, 'in6');
    mkdirSync(in6);
    touch(join(in6, 'photo.jpg'), 'jpeg');
    touch(join(in6, 'photo.png'), 'the user photo');
    const plan = planPredictOutputs([join(in6, 'photo.jpg')], in6);
    expect(() => refuseForeignTargets(plan, { overlay: false })).toThrow(
      /photo\.png: already exists and is not a mask seg wrote .*photo\.jpg.*; move it or choose another --output/,
    );
    // A mask seg wrote may be replaced (a rerun); a symlink at the target may not.
    const out = join(dir, 'out');
    mkdirSync(out);
    writeFileSync(join(out, 'photo.png'), markMaskPng(encodeLabelPng({ width: 1, height: 1, data: Uint8Array.of(0) })));
    const again = planPredictOutputs([join(in6, 'photo.jpg')], out);
    expect(() => refuseForeignTargets(again, { overlay: false })).not.toThrow();
    touch(join(out, 'photo_overlay.jpg'), 'the user overlay');
    expect(() => refuseForeignTargets(again, { overlay: true })).toThrow(/photo_overlay\.jpg: already exists/);
    rmSync(join(out, 'photo_overlay.jpg'));
    symlinkSync(join(in6, 'photo.png'), join(out, 'photo_overlay.jpg'));
    expect(() => refuseForeignTargets(again, { overlay: true })).toThrow(/photo_overlay\.jpg: already exists .*symlink/);
    expect(() => prepareTarget(join(in6, 'photo.png'), plan)).toThrow(/not a mask seg wrote/);
    expect(readFileSync(join(in6, 'photo.png'), 'utf8')).toBe('the user photo');
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
    expect(byFile[join(input, 'pipe.png')]).toBeUndefined();
    expect(plan.excluded).toEqual([{ file: join(input, 'pipe.png'), problem: 'not a regular file (FIFO, device or socket)' }]);
    touch(join(dir, 'file-out'));
    expect(() => planPredictOutputs([input], join(dir, 'file-out'))).toThrow(/is an existing file, not a folder/);
    expect(() => planPredictOutputs([join(input, 'dangling.jpg')], join(dir, 'out'))).toThrow(/--input .*dangling symlink/);
    expect(() => planPredictOutputs([join(dir, 'nope')], join(dir, 'out'))).toThrow(/no such file or folder/);
  });

  it('writeReplacing replaces a symlink at the target (after prepareTarget has checked it) and leaves its target alone', () => {
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
