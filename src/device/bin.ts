#!/usr/bin/env node
// pendulum-agent: the device agent alone, without the server and publisher
// commands, so that one bundled file plus the node binary is all a device
// image carries (see scripts/bundle-agent.mjs).
import { Command } from 'commander';
import { registerAgent } from '../cli/agent.js';
import { reportFailure } from '../cli/common.js';

const program = new Command('pendulum-agent')
  .description('the pendulum device agent')
  .version('0.1.0', '-V, --print-version')
  .showHelpAfterError();

registerAgent(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  process.exitCode = reportFailure(error);
});
