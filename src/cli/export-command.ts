/** `seg export`: a checkpoint as an ONNX file (opset 17) for onnxruntime, Triton and other engines. */
import { type Command, Option } from 'commander';
import { SegError } from '../core/errors.js';
import { exportCheckpoint } from '../export/export-checkpoint.js';
import { HEAD_OUTPUTS, type HeadOutput } from '../export/onnx-metadata.js';
import { addBackendOption, useBackend } from './options.js';
import { checkpointFromFlag } from './weights-source.js';

interface ExportFlags {
  checkpoint: string;
  out: string;
  headOutput: HeadOutput;
  fixedSize?: string[];
  padToStride?: boolean;
  onnx?: boolean;
  backend?: string;
}

function parseFixedSize(values: string[] | undefined): [number, number] | undefined {
  if (values === undefined) return undefined;
  const nums = values.map(Number);
  if (nums.length !== 2 || !nums.every((n) => Number.isInteger(n) && n >= 1 && n <= 65536)) {
    throw new SegError(`--fixed-size: got '${values.join(' ')}', expected two integers H W, e.g. --fixed-size 512 512`, '--fixed-size');
  }
  return [nums[0] as number, nums[1] as number];
}

export function registerExportCommand(program: Command): void {
  const cmd = program
    .command('export')
    .description("write a checkpoint as an ONNX model: input 'image' [N,3,H,W] (normalised RGB), output logits [N,K,H,W], scores or mask")
    .requiredOption(
      '--checkpoint <dir|name>',
      'run folder or checkpoint folder written by seg train, or a weights name (torchvision:deeplabv3_resnet101)',
    )
    .requiredOption('--out <file>', 'the .onnx file to write')
    .option('--onnx', 'the format (ONNX, the only one; accepted for clarity)')
    .addOption(
      new Option('--head-output <kind>', "what the graph ends with: logits, the head's scores, or an int64 mask")
        .choices([...HEAD_OUTPUTS])
        .default('logits'),
    )
    .option('--fixed-size <h w...>', 'static input height and width instead of dynamic H and W (N stays dynamic)')
    .option(
      '--pad-to-stride',
      "pad the image to a multiple of the output stride inside the graph and crop the logits back (default: the image as it is, torchvision's logits)",
    );
  addBackendOption(cmd).action(async (flags: ExportFlags) => {
    const fixedSize = parseFixedSize(flags.fixedSize);
    const checkpoint = await checkpointFromFlag(flags.checkpoint);
    await useBackend(flags.backend, true);
    const result = await exportCheckpoint(checkpoint, flags.out, {
      headOutput: flags.headOutput,
      ...(fixedSize !== undefined ? { fixedSize } : {}),
      padToStride: flags.padToStride === true,
    });
    process.stdout.write(
      `wrote ${result.file} (${(result.bytes / 2 ** 20).toFixed(1)} MiB, ${flags.headOutput}) from ${result.checkpoint}\n`,
    );
  });
}
