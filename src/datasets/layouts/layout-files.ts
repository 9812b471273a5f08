/** Names the built-in layouts look for. */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** SBD's grayscale labels, as `seg data download voc2012 --sbd` writes them. */
export const AUG_DIR = 'SegmentationClassAug';

/** One class name per line, background first: what seg's dataset makers write. */
export const CLASSES_FILE = 'classes.txt';

export function hasFile(dir: string, name: string): boolean {
  const path = join(dir, name);
  return existsSync(path) && statSync(path).isFile();
}
