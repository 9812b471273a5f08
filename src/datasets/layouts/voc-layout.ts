/**
 * PASCAL VOC 2012 as distributed: `VOCdevkit/VOC2012/` with JPEGImages/, SegmentationClass/
 * (palette PNGs) and ImageSets/Segmentation/<split>.txt; the 21 VOC classes.
 */
import { join } from 'node:path';
import { SegError } from '../../core/errors.js';
import { VOC_CLASSES } from '../classes.js';
import { type Dataset, findVocFolder, IMAGE_DIR, isDir, LIST_DIR, vocFolderDataset } from '../dataset.js';
import type { DatasetLayout } from '../dataset-layout.js';
import { AUG_DIR, CLASSES_FILE, hasFile } from './layout-files.js';

export function openVocFolder(root: string, layout: string): string {
  const dir = findVocFolder(root);
  if (dir === undefined) {
    throw new SegError(
      `${root}: not a ${layout}-layout dataset: expected ${IMAGE_DIR}/ and ${LIST_DIR}/ in it (or in VOC2012/ or VOCdevkit/VOC2012/ beneath it)`,
      root,
    );
  }
  return dir;
}

export const vocLayout: DatasetLayout = {
  name: 'voc',
  description: `VOCdevkit/VOC2012: ${IMAGE_DIR}/, SegmentationClass/, ${LIST_DIR}/, the 21 VOC classes`,
  detect(root: string): string | undefined {
    const dir = findVocFolder(root);
    if (dir === undefined || hasFile(dir, CLASSES_FILE) || isDir(join(dir, AUG_DIR))) return undefined;
    return dir;
  },
  open(root: string): Dataset {
    const dir = openVocFolder(root, 'voc');
    return vocFolderDataset(dir, { layout: 'voc', classNames: [...VOC_CLASSES], labelDirs: ['SegmentationClass'] });
  },
};
