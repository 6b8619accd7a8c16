// pendulum agent floor: show a device's anti-rollback floor, or restore it
// when its store was lost or damaged and the agent refuses every update.
import type { Command } from 'commander';
import { loadAgentConfig, rollbackFloorFile } from '../device/config.js';
import { createRollbackFloorStore, type RollbackFloorStore } from '../device/rollback-floor.js';
import { isPendulumError, PendulumError } from '../errors.js';
import { nonNegativeInt, print } from './common.js';

// registerAgentFloor adds `floor show|set` under `agent`, which holds --config.
export function registerAgentFloor(agent: Command): void {
  const floor = agent
    .command('floor')
    .description("the device's anti-rollback floor: no release with a lower sequence installs")
    .configureHelp({ showGlobalOptions: true });
  floor
    .command('show')
    .description('print the anti-rollback floor and the file it is kept in')
    .configureHelp({ showGlobalOptions: true })
    .action(async (_options: unknown, command: Command) => {
      const store = await storeOf(command);
      print(`anti-rollback floor ${await store.read()} (${store.path})`);
    });
  floor
    .command('set <floor>')
    .description(
      'write the anti-rollback floor, e.g. to restore a lost store: use the sequence of the release the device has committed',
    )
    .option('--force', 'lower an intact floor (older releases install again)', false)
    .configureHelp({ showGlobalOptions: true })
    .action(async (value: string, options: { force: boolean }, command: Command) => {
      const next = nonNegativeInt('floor')(value);
      const store = await storeOf(command);
      const current = await store.read().catch((error: unknown) => {
        // A store that cannot be read is what this command restores.
        if (isPendulumError(error, 'STATE_CORRUPT')) return undefined;
        throw error;
      });
      if (current !== undefined && next < current && !options.force)
        throw new PendulumError(
          'FAILED_PRECONDITION',
          `refusing to lower the anti-rollback floor from ${current} to ${next}: releases it refuses would install again; pass --force if that is meant`,
          { context: { file: store.path } },
        );
      await store.write(next);
      print(
        current === undefined
          ? `anti-rollback floor restored to ${next} (${store.path})`
          : `anti-rollback floor ${current} -> ${next} (${store.path})`,
      );
    });
}

// storeOf opens the floor store the agent config (agent --config) names.
async function storeOf(command: Command): Promise<RollbackFloorStore> {
  const { config } = command.optsWithGlobals<{ config: string }>();
  return createRollbackFloorStore(rollbackFloorFile(await loadAgentConfig(config)));
}
