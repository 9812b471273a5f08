/** `--layout`: the dataset layout of --data, its choices from the layout registry. */
import { Option } from 'commander';
import { AUTO_LAYOUT, datasetLayoutNames } from '../datasets/open-dataset.js';

export interface LayoutFlags {
  layout: string;
}

/** `--layout <name>` (default auto), for a command that opens --data. */
export function layoutOption(): Option {
  return new Option('--layout <name>', 'dataset layout of --data (auto: the one layout the folder fits)')
    .choices([AUTO_LAYOUT, ...datasetLayoutNames()])
    .default(AUTO_LAYOUT);
}
