/**
 * VOC 2012 with SBD's extra labels (DeepLab's trainaug), as `seg data download voc2012 --sbd`
 * writes it: the VOC folder plus SegmentationClassAug/ (grayscale PNGs) and
 * ImageSets/Segmentation/trainaug.txt (or DeepLab's train_aug.txt). A label is read from
 * SegmentationClass/ when VOC has one, else from SegmentationClassAug/.
 */
import { join } from 'node:path';
import { SegError } from '../../core/errors.js';
import { VOC_CLASSES } from '../classes.js';
import { type Dataset, findVocFolder, isDir, vocFolderDataset } from '../dataset.js';
import type { DatasetLayout } from '../dataset-layout.js';
import { AUG_DIR, CLASSES_FILE, hasFile } from './layout-files.js';
import { openVocFolder } from './voc-layout.js';

export const sbdLayout: DatasetLayout = {
  name: 'sbd',
  description: `VOC 2012 + SBD trainaug: the VOC folder with ${AUG_DIR}/ (seg data download voc2012 --sbd)`,
  detect(root: string): string | undefined {
    const dir = findVocFolder(root);
    if (dir === undefined || hasFile(dir, CLASSES_FILE) || !isDir(join(dir, AUG_DIR))) return undefined;
    return dir;
  },
  open(root: string): Dataset {
    const dir = openVocFolder(root, 'sbd');
    if (!isDir(join(dir, AUG_DIR))) {
      throw new SegError(`${dir}: no ${AUG_DIR}/ folder; add SBD's labels with 'seg data download voc2012 --sbd'`, dir);
    }
    return vocFolderDataset(dir, { layout: 'sbd', classNames: [...VOC_CLASSES], labelDirs: ['SegmentationClass', AUG_DIR] });
  },
};
