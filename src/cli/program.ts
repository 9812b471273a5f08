/** The `seg` program: one file per command, registered here; errors become exit codes in one place. */
import { Command, CommanderError } from 'commander';
import { isUserError } from '../core/errors.js';
import { PACKAGE_VERSION } from '../core/version.js';
import { cliMessage } from './field-flags.js';
import { printable } from '../core/printable.js';
import { registerBenchCommand } from './bench-command.js';
import { registerDataCommand } from './data-command.js';
import { registerInfoCommand } from './info-command.js';
import { registerTrainCommand } from './train-command.js';
import { registerEvalCommand } from './eval-command.js';
import { registerPredictCommand } from './predict-command.js';
import { registerCompareCommand } from './compare-command.js';
import { registerTraceCommand } from './trace-command.js';
import { registerDemoCommand } from './demo-command.js';
import { registerExportCommand } from './export-command.js';
import { registerWeightsCommand } from './weights-command.js';
import { registerReportCommand } from './report-command.js';
import { describeMemoryFailure } from './memory-failure.js';
import { activeBackend } from '../backend/select-backend.js';

export function buildProgram(): Command {
  const program = new Command('seg')
    .description('Semantic segmentation on PASCAL VOC with TensorFlow.js: softmax vs linear-EGB output heads.')
    .version(PACKAGE_VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerBenchCommand(program);
  registerDataCommand(program);
  registerInfoCommand(program);
  registerTrainCommand(program);
  registerEvalCommand(program);
  registerPredictCommand(program);
  registerCompareCommand(program);
  registerTraceCommand(program);
  registerDemoCommand(program);
  registerExportCommand(program);
  registerWeightsCommand(program);
  registerReportCommand(program);
  return program;
}

/** Run the program on argv; returns the exit code. User errors print one line, bugs keep their stack. */
export async function runCli(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv]);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander has already printed help, the version or the usage error.
      return err.exitCode;
    }
    if (isUserError(err)) {
      // Messages name files and ids from the user's data: control characters are shown escaped.
      process.stderr.write(`error: ${printable(cliMessage(err))}\n`);
      return 1;
    }
    const memory = describeMemoryFailure(err, activeBackend());
    if (memory !== undefined) {
      process.stderr.write(`error: ${memory}\n`);
      return 1;
    }
    process.stderr.write(`seg: internal error (please report it):\n${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 70;
  }
}
