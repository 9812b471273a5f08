#!/usr/bin/env node
// The `seg` executable: nothing but argv handed to the program. Importing the library
// never starts the CLI; only running this file does.
import { runCli } from './program.js';

process.exitCode = await runCli(process.argv);
