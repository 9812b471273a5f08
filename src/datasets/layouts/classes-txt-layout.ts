/**
 * A custom dataset in the VOC folder structure with its own `classes.txt` (one class name
 * per line, background first), as `seg data synth` and `seg data fashion` write it. Labels are
 * palette or grayscale PNGs in SegmentationClass/ (or SegmentationClassAug/).
 */
import { join } from 'node:path';
import { SegError } from '../../core/errors.js';
import { readClassNames } from '../classes.js';
import { type Dataset, findVocFolder, vocFolderDataset } from '../dataset.js';
import type { DatasetLayout } from '../dataset-layout.js';
import { AUG_DIR, CLASSES_FILE, hasFile } from './layout-files.js';
import { openVocFolder } from './voc-layout.js';

export const classesTxtLayout: DatasetLayout = {
  name: 'classes-txt',
  description: `a VOC-style folder with its own ${CLASSES_FILE} (seg data synth, seg data fashion)`,
  detect(root: string): string | undefined {
    const dir = findVocFolder(root);
    return dir !== undefined && hasFile(dir, CLASSES_FILE) ? dir : undefined;
  },
  open(root: string): Dataset {
    const dir = openVocFolder(root, 'classes-txt');
    const file = join(dir, CLASSES_FILE);
    if (!hasFile(dir, CLASSES_FILE)) throw new SegError(`${file}: not found; list one class name per line, background first`, file);
    return vocFolderDataset(dir, { layout: 'classes-txt', classNames: readClassNames(file), labelDirs: ['SegmentationClass', AUG_DIR] });
  },
};
