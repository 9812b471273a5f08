/** `seg weights list|download|import`: pretrained weights by name (downloaded once into the cache) and torchvision files made into checkpoints. */
import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { Option } from 'commander';
import { segHome } from '../core/cache-dir.js';
import { SegError } from '../core/errors.js';
import { printable } from '../core/printable.js';
import { OUTPUT_STRIDES, type OutputStride } from '../backbones/backbone.js';
import { checkpointExists } from '../checkpoint/checkpoint.js';
import {
  checkpointCacheDir,
  fetchNamedCheckpoint,
  fetchNamedWeights,
  knownWeightsNames,
  lookupWeights,
  weightsCacheFile,
  weightsUrl,
} from '../checkpoint/named-weights.js';
import { importSegmentationWeights } from '../checkpoint/segmentation-import.js';
import { cliFetchOptions } from './weights-source.js';

interface ListFlags {
  json?: boolean;
}

interface DownloadFlags {
  mirror?: string;
}

interface ImportFlags {
  out: string;
  outputStride: string;
  classes?: string;
}

function readClassesFile(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new SegError(`--classes ${file}: cannot read it; give a text file with one class name per line`, '--classes');
  }
  return text
    .replace(/\r/g, '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

export function registerWeightsCommand(program: Command): void {
  const weights = program
    .command('weights')
    .description(
      `pretrained weights by name, downloaded once into the cache (SEG_HOME, now ${segHome()}), and torchvision files as checkpoints`,
    );

  weights
    .command('list')
    .description('the weights names seg knows, where they come from and whether they are in the cache')
    .option('--json', 'print [{name, kind, backbone, url, cached, description, published}]')
    .action((flags: ListFlags) => {
      const home = segHome();
      const rows = knownWeightsNames().map((text) => {
        const w = lookupWeights(text, 'name');
        const cached = w.kind === 'segmentation' ? checkpointExists(checkpointCacheDir(w, home)) : existsSync(weightsCacheFile(w, home));
        return {
          name: text,
          ...(w.name !== text ? { sameAs: w.name } : {}),
          kind: w.kind,
          backbone: w.backbone,
          url: weightsUrl(w),
          cached,
          description: w.description,
          published: w.published,
        };
      });
      if (flags.json === true) {
        process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        return;
      }
      for (const r of rows) {
        const what = r.sameAs !== undefined ? `= ${r.sameAs}` : `${r.kind}, ${r.description}; ${r.published}`;
        process.stdout.write(`${r.cached ? '*' : ' '} ${r.name.padEnd(42)} ${what}\n`);
      }
      process.stdout.write(`(* in the cache: ${home})\n`);
    });

  weights
    .command('download')
    .description('download weights into the cache (segmentation models are also made into seg checkpoints); prints where they are')
    .argument('<names...>', 'weights names, e.g. torchvision:resnet101 torchvision:deeplabv3_resnet101 timm:resnet101.a1h_in1k')
    .option('--mirror <url>', 'fetch from this base URL instead (it replaces https://download.pytorch.org/models, or the hub)')
    .action(async (names: string[], flags: DownloadFlags) => {
      const chosen = names.map((n) => lookupWeights(n, 'seg weights download'));
      for (const w of chosen) {
        const options = cliFetchOptions(flags.mirror !== undefined ? { mirror: flags.mirror } : {});
        try {
          if (w.kind === 'segmentation') {
            const dir = await fetchNamedCheckpoint(w, options);
            process.stdout.write(`${w.name}: checkpoint ${printable(dir)} (use --checkpoint ${w.name})\n`);
          } else {
            const file = await fetchNamedWeights(w, options);
            process.stdout.write(`${w.name}: ${printable(file)} (use --pretrained ${w.name})\n`);
          }
        } finally {
          options.finish();
        }
      }
    });

  weights
    .command('import')
    .description(
      'make a torchvision DeepLabV3 state dict (.pth or .safetensors, e.g. deeplabv3_resnet101_coco-586e9e4e.pth) into a seg checkpoint folder',
    )
    .argument('<file>', 'the weights file')
    .requiredOption('--out <dir>', 'the checkpoint folder to write (new)')
    .addOption(
      new Option('--output-stride <n>', "the model's output stride (torchvision's DeepLabV3: 8)")
        .choices(OUTPUT_STRIDES.map(String))
        .default('8'),
    )
    .option('--classes <file>', 'class names, one per line (default: the 21 VOC classes for a 21-class model)')
    .action(async (file: string, flags: ImportFlags) => {
      if (checkpointExists(flags.out)) {
        throw new SegError(`--out ${flags.out}: already holds a checkpoint; choose a new folder (nothing was overwritten)`, '--out');
      }
      const report = await importSegmentationWeights(file, flags.out, {
        outputStride: Number(flags.outputStride) as OutputStride,
        ...(flags.classes !== undefined ? { classNames: readClassesFile(flags.classes) } : {}),
        source: { weights: file },
        commandLine: process.argv.slice(1),
        log: (line) => process.stderr.write(`${line}\n`),
      });
      const m = report.model;
      process.stdout.write(
        `wrote ${printable(report.dir)}: ${m.backbone} DeepLabV3, output stride ${m.outputStride}, ${m.numClasses} classes` +
          `${m.auxClassifier === true ? ', aux classifier (training only)' : ''}, softmax head, ImageNet normalisation\n`,
      );
    });
}
