import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SegError } from '../../src/core/errors.js';
import { VOC_CLASSES } from '../../src/datasets/classes.js';
import { parseIdList } from '../../src/datasets/dataset.js';
import { openDataset } from '../../src/datasets/open-dataset.js';
import { writeLabelPng } from '../../src/image/label-png.js';
import { removeTempDirs, tempDir } from './fixtures.js';

afterAll(removeTempDirs);

function skeleton(root: string): void {
  for (const dir of ['JPEGImages', 'SegmentationClass', 'SegmentationClassAug', 'ImageSets/Segmentation'])
    mkdirSync(join(root, dir), { recursive: true });
}

describe('openDataset', () => {
  it('finds the VOC2012 folder from itself, its parent or VOCdevkit', () => {
    const base = tempDir();
    const voc = join(base, 'VOCdevkit', 'VOC2012');
    skeleton(voc);
    expect(openDataset(voc).root).toBe(voc);
    expect(openDataset(join(base, 'VOCdevkit')).root).toBe(voc);
    expect(openDataset(base).root).toBe(voc);
  });

  it('uses the 21 VOC classes without classes.txt and the file when present', () => {
    const root = tempDir();
    skeleton(root);
    const voc = openDataset(root);
    expect(voc.classNames.length).toBe(21);
    expect(voc.classNames[0]).toBe('background');
    expect(voc.classNames[15]).toBe('person');
    expect(voc.classNames).toEqual([...VOC_CLASSES]);
    writeFileSync(join(root, 'classes.txt'), 'background\nleaf\nstem\n\n');
    expect(openDataset(root).classNames).toEqual(['background', 'leaf', 'stem']);
  });

  it('rejects a bad classes.txt, naming it', () => {
    const root = tempDir();
    skeleton(root);
    writeFileSync(join(root, 'classes.txt'), 'background\n\nstem\n');
    expect(() => openDataset(root)).toThrow(/classes\.txt: line 2 is blank/);
    writeFileSync(join(root, 'classes.txt'), 'background\nstem\nstem\n');
    expect(() => openDataset(root)).toThrow(/appears twice/);
  });

  it('takes the label from SegmentationClass when present, else SegmentationClassAug', () => {
    const root = tempDir();
    skeleton(root);
    const label = { width: 2, height: 2, data: new Uint8Array(4) };
    writeLabelPng(join(root, 'SegmentationClass', 'a.png'), label);
    writeLabelPng(join(root, 'SegmentationClassAug', 'a.png'), label);
    writeLabelPng(join(root, 'SegmentationClassAug', 'b.png'), label);
    const ds = openDataset(root);
    expect(ds.labelPath('a')).toBe(join(ds.root, 'SegmentationClass', 'a.png'));
    expect(ds.labelPath('b')).toBe(join(ds.root, 'SegmentationClassAug', 'b.png'));
    expect(ds.imagePath('a')).toBe(join(ds.root, 'JPEGImages', 'a.jpg'));
  });

  it('lists splits, with trainaug falling back to train_aug.txt and DeepLab path pairs', () => {
    const root = tempDir();
    skeleton(root);
    const lists = join(root, 'ImageSets', 'Segmentation');
    writeFileSync(join(lists, 'train.txt'), '2007_000032\n2007_000039\r\n\n');
    writeFileSync(join(lists, 'train_aug.txt'), '/JPEGImages/2007_000032.jpg /SegmentationClassAug/2007_000032.png\n2008_000002\n');
    const ds = openDataset(root);
    expect(ds.listSplit('train')).toEqual(['2007_000032', '2007_000039']);
    expect(ds.listSplit('trainaug')).toEqual(['2007_000032', '2008_000002']);
    expect(ds.listSplit('train_aug')).toEqual(['2007_000032', '2008_000002']);
    expect(ds.splits()).toEqual(['train', 'train_aug']);
  });

  it('says which splits exist when one is missing, and refuses an empty list', () => {
    const root = tempDir();
    skeleton(root);
    const lists = join(root, 'ImageSets', 'Segmentation');
    writeFileSync(join(lists, 'train.txt'), 'a\n');
    writeFileSync(join(lists, 'val.txt'), '\n');
    const ds = openDataset(root);
    expect(() => ds.listSplit('test')).toThrow(/got 'test', expected one of train, val/);
    expect(() => ds.listSplit('val')).toThrow(SegError);
    expect(() => ds.listSplit('val')).toThrow(/val\.txt: the split list is empty/);
  });

  it('explains a folder that is not a dataset', () => {
    const root = tempDir();
    expect(() => openDataset(root)).toThrow(/not a VOC-layout dataset/);
    expect(() => openDataset(join(root, 'absent'))).toThrow(/dataset folder not found/);
  });
});

describe('parseIdList', () => {
  it('reads ids and path pairs, skipping blank lines', () => {
    expect(parseIdList('a\n  b  \n\n/x/JPEGImages/c.jpg /y/d.png\n')).toEqual(['a', 'b', 'c']);
  });

  it('refuses ids with a folder part (../ or an absolute path), naming the line, instead of cutting them to a basename', () => {
    expect(() => parseIdList('a\n../../../../../etc/passwd\n', 'val.txt')).toThrow(
      /val\.txt: line 2: id '\.\.\/\.\.\/\.\.\/\.\.\/\.\.\/etc\/passwd' names a path, not an image id/,
    );
    expect(() => parseIdList('/etc/passwd\n', 'val.txt')).toThrow(/line 1: id '\/etc\/passwd' names a path/);
    expect(() => parseIdList('ok\nsub\\x\n', 'val.txt')).toThrow(/line 2: id 'sub\\x' names a path/);
    expect(() => parseIdList('..\n', 'val.txt')).toThrow(/line 1: id '\.\.' names a path/);
    expect(() => parseIdList('/JPEGImages/../../x.jpg /SegmentationClassAug/x.png\n', 'val.txt')).toThrow(/line 1/);
    // DeepLab's path pairs stay readable.
    expect(parseIdList('/JPEGImages/2007_000032.jpg /SegmentationClassAug/2007_000032.png\nJPEGImages/b.jpg\n', 'x')).toEqual([
      '2007_000032',
      'b',
    ]);
  });
});
