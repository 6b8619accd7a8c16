// pendulum agent and pendulum sim: run the device agent (and its floor); drive a simulated bootloader.
import type { Command } from 'commander';
import { Option } from 'commander';
import { initSimulatedBootloader, simulateBoot } from '../device/bootloaders/simulated.js';
import { loadAgentConfig } from '../device/config.js';
import { registerAgentFloor } from './agent-floor.js';
import { positiveInt, print } from './common.js';

// registerAgent adds `agent`, `agent floor show|set` and `sim init|boot`.
export function registerAgent(program: Command): void {
  const agent = program
    .command('agent')
    .description(
      'run the device agent: poll, download into the inactive slot, verify, arm, reboot, check health, commit or roll back',
    )
    .requiredOption('--config <file>', 'agent.toml')
    .option('--once', 'stop when idle with nothing offered, or when a reboot was requested', false)
    .action(async (options: { config: string; once: boolean }) => {
      const config = await loadAgentConfig(options.config);
      const controller = new AbortController();
      const stop = () => controller.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      // Loaded here so other commands start without the agent's code.
      const { runAgentFromConfig } = await import('../device/main.js');
      const result = await runAgentFromConfig(config, {
        once: options.once,
        signal: controller.signal,
      });
      if (options.once) print(`agent: ${result}`);
    });
  registerAgentFloor(agent);

  const sim = program
    .command('sim')
    .description('the simulated bootloader (GRUB A/B semantics in files), for demos and tests');
  sim
    .command('init')
    .description(
      'set up a factory-fresh simulated bootloader: one slot good and booted, the other empty',
    )
    .requiredOption('--env <file>', 'GRUB environment block file')
    .requiredOption('--cmdline <file>', 'file that plays /proc/cmdline')
    .addOption(
      new Option('--booted <slot>', 'slot that is running').choices(['A', 'B']).default('A'),
    )
    .option('--max-tries <n>', 'boots allowed before fallback', positiveInt('--max-tries'), 3)
    .action(
      async (options: { env: string; cmdline: string; booted: 'A' | 'B'; maxTries: number }) => {
        await initSimulatedBootloader({
          envPath: options.env,
          cmdlinePath: options.cmdline,
          booted: options.booted,
          maxTries: options.maxTries,
        });
        print(`simulated bootloader ready; slot ${options.booted} booted`);
      },
    );
  sim
    .command('boot')
    .description('power the simulated device on (or reboot it): the bootloader picks a slot')
    .requiredOption('--env <file>', 'GRUB environment block file')
    .requiredOption('--cmdline <file>', 'file that plays /proc/cmdline')
    .action(async (options: { env: string; cmdline: string }) => {
      print(
        `booted slot ${await simulateBoot({ envPath: options.env, cmdlinePath: options.cmdline })}`,
      );
    });
}
