import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SegError } from '../../src/core/errors.js';
import { vocFolderDataset } from '../../src/datasets/dataset.js';
import type { DatasetLayout } from '../../src/datasets/dataset-layout.js';
import {
  datasetLayout,
  datasetLayoutNames,
  detectDatasetLayouts,
  openDataset,
  registerDatasetLayout,
  unregisterDatasetLayout,
} from '../../src/datasets/open-dataset.js';
import { removeTempDirs, tempDir } from './fixtures.js';

afterAll(removeTempDirs);

function vocFolder(root: string, extra: string[] = []): string {
  for (const dir of ['JPEGImages', 'SegmentationClass', 'ImageSets/Segmentation', ...extra])
    mkdirSync(join(root, dir), { recursive: true });
  writeFileSync(join(root, 'ImageSets/Segmentation/train.txt'), 'a\n');
  return root;
}

describe('dataset layouts', () => {
  it('registers voc, sbd and classes-txt, in that order', () => {
    expect(datasetLayoutNames()).toEqual(['voc', 'sbd', 'classes-txt']);
  });

  it('auto detects VOCdevkit/VOC2012 as voc, with the VOC labels folder only', () => {
    const base = tempDir();
    const voc = vocFolder(join(base, 'VOCdevkit', 'VOC2012'));
    const ds = openDataset(base);
    expect(ds.layout).toBe('voc');
    expect(ds.root).toBe(voc);
    expect(ds.classNames.length).toBe(21);
    expect(ds.labelPath('a')).toBe(join(voc, 'SegmentationClass', 'a.png'));
    expect(ds.labelMap).toBeUndefined();
    // VOC's colormap: class 1 is (128, 0, 0), void 255 is (224, 224, 192).
    expect([...ds.palette.subarray(3, 6)]).toEqual([128, 0, 0]);
    expect([...ds.palette.subarray(765, 768)]).toEqual([224, 224, 192]);
  });

  it('auto detects the SBD trainaug folder (SegmentationClassAug/) as sbd: VOC labels first, then SBD', () => {
    const root = vocFolder(tempDir(), ['SegmentationClassAug']);
    writeFileSync(join(root, 'ImageSets/Segmentation/trainaug.txt'), 'a\nb\n');
    writeFileSync(join(root, 'SegmentationClass/a.png'), '');
    writeFileSync(join(root, 'SegmentationClassAug/b.png'), '');
    const ds = openDataset(root);
    expect(ds.layout).toBe('sbd');
    expect(ds.listSplit('trainaug')).toEqual(['a', 'b']);
    expect(ds.labelPath('a')).toBe(join(root, 'SegmentationClass', 'a.png'));
    expect(ds.labelPath('b')).toBe(join(root, 'SegmentationClassAug', 'b.png'));
    // Opened as plain VOC the SBD labels are not looked at.
    expect(openDataset(root, 'voc').labelPath('b')).toBe(join(root, 'SegmentationClass', 'b.png'));
  });

  it('auto detects a folder with classes.txt as classes-txt, and refuses the layout on a folder without one', () => {
    const root = vocFolder(tempDir());
    writeFileSync(join(root, 'classes.txt'), 'background\nleaf\n');
    const ds = openDataset(root);
    expect(ds.layout).toBe('classes-txt');
    expect(ds.classNames).toEqual(['background', 'leaf']);
    const plain = vocFolder(tempDir());
    expect(() => openDataset(plain, 'classes-txt')).toThrow(/classes\.txt: not found/);
    expect(() => openDataset(plain, 'sbd')).toThrow(/no SegmentationClassAug\/ folder.*--sbd/);
  });

  it('an unknown folder names the folder and every layout tried', () => {
    const root = tempDir();
    mkdirSync(join(root, 'images'));
    const err = (() => {
      try {
        openDataset(root);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(SegError);
    expect((err as Error).message).toContain(root);
    for (const name of ['voc', 'sbd', 'classes-txt']) expect((err as Error).message).toContain(`${name} (`);
    expect(() => openDataset(join(root, 'missing'))).toThrow(/dataset folder not found/);
  });

  it('an unknown --layout lists the choices', () => {
    expect(() => openDataset(vocFolder(tempDir()), 'cityscapes')).toThrow(
      /--layout: got 'cityscapes', expected one of auto, voc, sbd, classes-txt/,
    );
    expect(() => datasetLayout('nope')).toThrow(SegError);
  });

  it('a registered layout is detected; a folder two layouts claim is ambiguous, naming both', () => {
    // A toy layout from the test file: flat images/ + labels/ folders with a marker file.
    const toy: DatasetLayout = {
      name: 'toy-flat',
      description: 'images/ and labels/ beside a toy.txt',
      detect: (root) => (detectToy(root) ? root : undefined),
      open: (root) => vocFolderDataset(root, { layout: 'toy-flat', classNames: ['background', 'thing'], labelDirs: ['labels'] }),
    };
    function detectToy(root: string): boolean {
      return existsSync(join(root, 'toy.txt'));
    }
    registerDatasetLayout(toy);
    try {
      expect(datasetLayoutNames()).toContain('toy-flat');
      expect(() => registerDatasetLayout(toy)).toThrow(/already registered/);
      const flat = tempDir();
      writeFileSync(join(flat, 'toy.txt'), '');
      const ds = openDataset(flat);
      expect(ds.layout).toBe('toy-flat');
      expect(ds.labelPath('x')).toBe(join(flat, 'labels', 'x.png'));
      const both = vocFolder(tempDir());
      writeFileSync(join(both, 'toy.txt'), '');
      expect(detectDatasetLayouts(both).map((d) => d.layout.name)).toEqual(['voc', 'toy-flat']);
      expect(() => openDataset(both)).toThrow(
        new RegExp(`${both}: the folder fits more than one dataset layout \\(voc, toy-flat\\); choose one with --layout voc\\|toy-flat`),
      );
      expect(openDataset(both, 'voc').layout).toBe('voc');
    } finally {
      unregisterDatasetLayout('toy-flat');
    }
    expect(datasetLayoutNames()).not.toContain('toy-flat');
    expect(() => unregisterDatasetLayout('voc')).toThrow(/built in/);
  });
});
