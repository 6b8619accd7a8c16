#!/usr/bin/env node
// The `pendulum` command: the tree from program.ts, failures printed as
// "pendulum: <CODE>: <message>" with exit code 1.
import { reportFailure } from './common.js';
import { buildProgram } from './program.js';

buildProgram()
  .parseAsync(process.argv)
  .catch((error: unknown) => {
    process.exitCode = reportFailure(error);
  });
