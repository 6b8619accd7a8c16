// pendulum rollout: offer a release to devices.
import type { Command } from 'commander';
import { PendulumError } from '../errors.js';
import { FleetService, RolloutState } from '../gen/pendulum/v1/fleet_pb.js';
import { PublisherService } from '../gen/pendulum/v1/publisher_pb.js';
import { type ConnectionOptions, connect, print, withConnection } from './common.js';

// registerRollout adds `rollout create|list`.
export function registerRollout(program: Command): void {
  const rollout = program
    .command('rollout')
    .description('rollouts: which devices get which release');

  withConnection(
    rollout.command('create').description('offer a release to every device of its class'),
  )
    .requiredOption(
      '--release <id|version>',
      'release id (or a unique prefix of it), or its version',
    )
    .option('--class <id>', "device class to target (default: the release's class)", '')
    .action(async (options: ConnectionOptions & { release: string; class: string }) => {
      const releaseId = await resolveRelease(options, options.release, options.class);
      const { client, close } = await connect(FleetService, options);
      try {
        const { rollout: created } = await client.createRollout({
          releaseId,
          classId: options.class,
        });
        if (created === undefined)
          throw new PendulumError('INTERNAL', 'server returned no rollout');
        print(
          `rollout ${created.id}: ${created.version} (sequence ${created.sequence}) to every "${created.classId}" device`,
        );
      } finally {
        close();
      }
    });

  withConnection(rollout.command('list').description('list rollouts, newest first')).action(
    async (options: ConnectionOptions) => {
      const { client, close } = await connect(FleetService, options);
      try {
        const { rollouts } = await client.listRollouts({});
        if (rollouts.length === 0) print('no rollouts');
        for (const r of rollouts)
          print(`${r.id}  ${r.classId}  ${r.version}  ${RolloutState[r.state].toLowerCase()}`);
      } finally {
        close();
      }
    },
  );
}

// resolveRelease turns an id, id prefix or version into one release id.
async function resolveRelease(
  options: ConnectionOptions,
  wanted: string,
  classId: string,
): Promise<string> {
  const { client, close } = await connect(PublisherService, options);
  try {
    const { releases } = await client.listReleases({ classId });
    const matches = releases.filter(
      (r) =>
        r.id === wanted || r.version === wanted || (wanted.length >= 8 && r.id.startsWith(wanted)),
    );
    const [only, ...more] = matches;
    if (only === undefined)
      throw new PendulumError(
        'NOT_FOUND',
        `no release matches "${wanted}"; see "pendulum release list"`,
        { context: { field: '--release' } },
      );
    if (more.length > 0) {
      throw new PendulumError(
        'INVALID_ARGUMENT',
        `"${wanted}" matches ${matches.length} releases; give the release id or --class`,
        { context: { field: '--release' } },
      );
    }
    return only.id;
  } finally {
    close();
  }
}
