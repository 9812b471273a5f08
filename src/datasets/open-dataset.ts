/**
 * Dataset layouts: each knows how to recognise a folder (`detect`) and open it (`open`).
 * `openDataset(root)` asks every registered layout and opens the one that recognises the
 * folder; `openDataset(root, name)` opens it in the named layout. A new layout is one file
 * (a DatasetLayout) and one line in BUILT_IN_LAYOUTS, or a registerDatasetLayout call.
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { expectedOneOf, SegError } from '../core/errors.js';
import type { Dataset } from './dataset.js';
import type { DatasetLayout } from './dataset-layout.js';
import { classesTxtLayout } from './layouts/classes-txt-layout.js';
import { sbdLayout } from './layouts/sbd-layout.js';
import { vocLayout } from './layouts/voc-layout.js';

/** `--layout auto`: the one layout that recognises the folder. */
export const AUTO_LAYOUT = 'auto';

const BUILT_IN_LAYOUTS: readonly DatasetLayout[] = [vocLayout, sbdLayout, classesTxtLayout];

const layouts = new Map<string, DatasetLayout>(BUILT_IN_LAYOUTS.map((l) => [l.name, l]));

/** Add a layout (for example from a plugin or a test); a name already taken is refused. */
export function registerDatasetLayout(layout: DatasetLayout): void {
  if (layout.name === AUTO_LAYOUT || layouts.has(layout.name)) {
    throw new SegError(`dataset layout '${layout.name}' is already registered; choose another name`, layout.name);
  }
  layouts.set(layout.name, layout);
}

/** Remove a layout added with registerDatasetLayout (tests); built-in layouts stay. */
export function unregisterDatasetLayout(name: string): void {
  if (BUILT_IN_LAYOUTS.some((l) => l.name === name)) throw new SegError(`dataset layout '${name}' is built in and stays`, name);
  layouts.delete(name);
}

/** The registered layout names, in registration order (the choices of --layout, besides auto). */
export function datasetLayoutNames(): string[] {
  return [...layouts.keys()];
}

/** The layout named `name`; an unknown name gets a SegError listing the choices. */
export function datasetLayout(name: string, flag = '--layout'): DatasetLayout {
  const layout = layouts.get(name);
  if (layout === undefined) throw expectedOneOf(flag, name, [AUTO_LAYOUT, ...layouts.keys()]);
  return layout;
}

/** The layouts that recognise `root`, with the folder each would open. */
export function detectDatasetLayouts(root: string): { layout: DatasetLayout; dir: string }[] {
  return [...layouts.values()].flatMap((layout) => {
    const dir = layout.detect(root);
    return dir === undefined ? [] : [{ layout, dir }];
  });
}

/**
 * Open the dataset at `root` in `layout` (default `auto`: the one registered layout that
 * recognises the folder). A folder no layout recognises, or more than one, gets a SegError
 * naming the folder and the layouts tried.
 */
export function openDataset(root: string, layout: string = AUTO_LAYOUT): Dataset {
  if (!existsSync(resolve(root)) || !statSync(resolve(root)).isDirectory()) {
    throw new SegError(`${root}: dataset folder not found; make one with 'seg data synth --out ${root}' or pass --data DIR`, root);
  }
  if (layout !== AUTO_LAYOUT) return datasetLayout(layout).open(root);
  const found = detectDatasetLayouts(root);
  const tried = [...layouts.values()].map((l) => `${l.name} (${l.description})`).join('; ');
  if (found.length === 0) {
    throw new SegError(
      `${root}: not a VOC-layout dataset, nor any other known layout: expected JPEGImages/ and ImageSets/Segmentation/ ` +
        `in it (or in VOC2012/ or VOCdevkit/VOC2012/ beneath it). Layouts tried: ${tried}`,
      root,
    );
  }
  if (found.length > 1) {
    throw new SegError(
      `${root}: the folder fits more than one dataset layout (${found.map((f) => f.layout.name).join(', ')}); ` +
        `choose one with --layout ${found.map((f) => f.layout.name).join('|')}. Layouts tried: ${tried}`,
      root,
    );
  }
  return (found[0] as { layout: DatasetLayout }).layout.open(root);
}
