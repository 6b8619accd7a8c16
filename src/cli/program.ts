// The `pendulum` command tree: one register function per command group.
import { Command } from 'commander';
import { registerAgent } from './agent.js';
import { registerAudit } from './audit.js';
import { registerDevices } from './devices.js';
import { registerKeys } from './keys.js';
import { registerRelease } from './release.js';
import { registerRollout } from './rollout.js';
import { registerServer } from './server.js';
import { registerTrust } from './trust.js';

// buildProgram makes the whole command tree, ready to parse.
export function buildProgram(): Command {
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
  registerAudit(program);
  registerServer(program);
  registerAgent(program);
  return program;
}
