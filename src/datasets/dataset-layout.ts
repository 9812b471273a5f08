/** What a dataset layout is: a way to recognise a folder and open it (registered in open-dataset.ts). */
import type { Dataset } from './dataset.js';

export interface DatasetLayout {
  /** The name `--layout` takes. */
  name: string;
  /** One line for --help and error messages: what a folder in this layout holds. */
  description: string;
  /** The dataset folder when `root` is in this layout (it may be a folder beneath root), else undefined. */
  detect(root: string): string | undefined;
  /** Open `root` in this layout; a folder that is not in it gets a SegError naming what is missing. */
  open(root: string): Dataset;
}
