#!/usr/bin/env node
// The `pendulum` command: one file per command group, wired here.
import { Command } from 'commander';
import { registerAgent } from './agent.js';
import { reportFailure } from './common.js';
import { registerDevices } from './devices.js';
import { registerKeys } from './keys.js';
import { registerRelease } from './release.js';
import { registerRollout } from './rollout.js';
import { registerServer } from './server.js';
import { registerTrust } from './trust.js';

const program = new Command('pendulum')
  .description('signed A/B over-the-air updates for fleets of embedded Linux devices')
  .version('0.1.0', '-V, --print-version')
  .showHelpAfterError()
  .configureHelp({ sortSubcommands: false });

registerKeys(program);
registerTrust(program);
registerRelease(program);
registerRollout(program);
registerDevices(program);
registerServer(program);
registerAgent(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  process.exitCode = reportFailure(error);
});
