/** `seg data synth|fashion|download|check`: make or fetch VOC-layout datasets and check any dataset in that layout. */
import type { Command } from 'commander';
import { createProgress } from '../core/progress.js';
import { checkDataset, formatCheckReport } from '../datasets/dataset-check.js';
import { openDataset } from '../datasets/open-dataset.js';
import { type LayoutFlags, layoutOption } from './layout-option.js';
import { DEFAULT_FASHION_SOURCE, makeFashionDataset } from '../dataset-makers/fashion-dataset.js';
import { makeSynthDataset, SYNTH_CLASSES, type MadeDataset } from '../dataset-makers/synth-dataset.js';
import { parseIntFlag } from './options.js';
import { byteProgress } from '../core/byte-progress.js';
import { SegError } from '../core/errors.js';
import { printable } from '../core/printable.js';
import { type DownloadStage, downloadVoc2012, SBD_ARCHIVE, VOC2012_ARCHIVE } from '../datasets/voc-download.js';

interface MakeFlags {
  out: string;
  train: number;
  val: number;
  size: number;
  seed: number;
  overwrite?: boolean;
}

interface FashionFlags extends MakeFlags {
  source: string;
}

interface DownloadFlags {
  out: string;
  sbd?: boolean;
  mirror?: string;
  removeArchives?: boolean;
}

interface CheckFlags extends LayoutFlags {
  data: string;
  split: string;
  json?: boolean;
}

function progressFor(label: string): (done: number, total: number) => void {
  let progress: ReturnType<typeof createProgress> | undefined;
  return (done, total) => {
    progress ??= createProgress({ total, label, plainEverySeconds: 5 });
    progress.update(done);
    if (done === total) progress.finish();
  };
}

function summarise(made: MadeDataset): void {
  const counts = Object.entries(made.splits)
    .map(([split, ids]) => `${split} ${ids.length}`)
    .join(', ');
  process.stdout.write(`wrote ${made.root}: ${counts}; ${made.classNames.length} classes (${made.classNames.join(', ')})\n`);
}

function addMakeOptions(cmd: Command, defaults: { train: number; val: number; size: number }): Command {
  return cmd
    .requiredOption('--out <dir>', 'output folder (new or empty)')
    .option('--train <n>', 'training images', parseIntFlag('--train', 0), defaults.train)
    .option('--val <n>', 'validation images', parseIntFlag('--val', 0), defaults.val)
    .option('--size <px>', 'image side in pixels', parseIntFlag('--size', 16, 4096), defaults.size)
    .option('--seed <k>', 'random seed (same seed, same files)', parseIntFlag('--seed', 0), 0)
    .option('--overwrite', 'write into a non-empty --out (same-named files are replaced, nothing is removed)');
}

export function registerDataCommand(program: Command): void {
  const data = program
    .command('data')
    .description('make VOC-layout datasets (synth, fashion), fetch VOC 2012 and SBD (download), check datasets');

  addMakeOptions(
    data
      .command('synth')
      .description(
        `procedural objects (${SYNTH_CLASSES.slice(1).join(', ')}) on textured backgrounds, with a void band along object borders; ` +
          'JPEG images, palette PNG labels, train/val/trainval lists, classes.txt',
      ),
    { train: 200, val: 50, size: 96 },
  ).action(async (flags: MakeFlags) => {
    const made = await makeSynthDataset({ ...flags, onProgress: progressFor('synth') });
    summarise(made);
  });

  addMakeOptions(
    data
      .command('fashion')
      .description(
        'scenes of Fashion-MNIST items (scaled, tinted, overlapping) on varied backgrounds, 11 classes; ' +
          'train scenes use the Fashion-MNIST train split, val scenes its test split',
      ),
    { train: 1000, val: 200, size: 128 },
  )
    .option(
      '--source <dir>',
      `folder with the Fashion-MNIST IDX files (from 'apt-get install dataset-fashion-mnist')`,
      DEFAULT_FASHION_SOURCE,
    )
    .action(async (flags: FashionFlags) => {
      const made = await makeFashionDataset({ ...flags, onProgress: progressFor('fashion') });
      summarise(made);
    });

  data
    .command('download')
    .description(
      `fetch PASCAL VOC 2012 (${VOC2012_ARCHIVE.file}, MD5-checked, resumable) and extract it to DIR/VOCdevkit/VOC2012; ` +
        `with --sbd also SBD (${SBD_ARCHIVE.file}): its cls/*.mat become SegmentationClassAug/*.png and ImageSets/Segmentation/trainaug.txt ` +
        '(SBD train+val plus VOC train, minus VOC val: 10,582 ids). A rerun skips what is done',
    )
    .argument('<dataset>', 'voc2012')
    .requiredOption('--out <dir>', 'folder for the archives and VOCdevkit/')
    .option('--sbd', 'also fetch and convert the SBD augmentation (trainaug)')
    .option('--mirror <url|dir>', 'a base URL, or a local folder, holding the archives under their own names')
    .option('--remove-archives', 'delete each archive from --out once it is extracted')
    .action(async (dataset: string, flags: DownloadFlags) => {
      if (dataset.toLowerCase() !== 'voc2012') throw new SegError(`seg data download: got '${dataset}', expected voc2012`, 'dataset');
      let bar: ReturnType<typeof byteProgress> | undefined;
      let current = '';
      const onProgress = (stage: DownloadStage, what: string, done: number, total: number | undefined): void => {
        const label = `${stage} ${what.split(/[\\/]/).pop() ?? what}`;
        if (label !== current) {
          bar?.finish();
          bar = byteProgress(label);
          current = label;
        }
        bar?.update(done, total);
      };
      try {
        const result = await downloadVoc2012({
          out: flags.out,
          sbd: flags.sbd === true,
          ...(flags.mirror !== undefined ? { mirror: flags.mirror } : {}),
          removeArchives: flags.removeArchives === true,
          log: (line) => {
            bar?.finish();
            current = '';
            process.stderr.write(`${line}\n`);
          },
          onProgress,
        });
        bar?.finish();
        const splits = Object.entries(result.splits)
          .map(([split, n]) => `${split} ${n}`)
          .join(', ');
        const aug = flags.sbd === true ? `; ${result.augLabels} SBD labels in SegmentationClassAug` : '';
        process.stdout.write(`${printable(result.root)}: ${splits}${aug}\n`);
        process.stdout.write(
          `train with: seg train --data ${printable(result.root)} --split ${flags.sbd === true ? 'trainaug' : 'train'} --val-split val ...\n`,
        );
      } finally {
        bar?.finish();
      }
    });

  data
    .command('check')
    .description('read every sample of a split and report counts and every problem found; exits 1 when there is any problem')
    .requiredOption('--data <dir>', 'dataset root (VOC2012 folder, or a folder holding VOC2012/ or VOCdevkit/VOC2012/)')
    .addOption(layoutOption())
    .option('--split <name>', 'list name in ImageSets/Segmentation', 'train')
    .option('--json', 'print {images, classes: [{name, pixels, images}], void_pixels, problems: [{id, file, problem}], ...}')
    .action(async (flags: CheckFlags) => {
      const report = await checkDataset(openDataset(flags.data, flags.layout), flags.split, {
        onProgress: flags.json === true ? undefined : progressFor('check'),
      });
      process.stdout.write(flags.json === true ? `${JSON.stringify(report, null, 2)}\n` : `${formatCheckReport(report)}\n`);
      if (report.problems.length > 0) process.exitCode = 1;
    });
}
