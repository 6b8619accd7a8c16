// pendulum rollout: offer a release to devices.
import type { Command } from 'commander';
import { PendulumError } from '../errors.js';
import { FleetService, type Rollout, RolloutState } from '../gen/pendulum/v1/fleet_pb.js';
import { PublisherService } from '../gen/pendulum/v1/publisher_pb.js';
import {
  type ConnectionOptions,
  collect,
  connect,
  positiveInt,
  print,
  withConnection,
} from './common.js';
import { type PlanOptions, planFields, ratioOption } from './rollout-plan-options.js';
import { registerRolloutStatus } from './rollout-status.js';
import { durationOption } from './time-options.js';

// registerRollout adds `rollout create|list|status|pause|resume|abort`.
export function registerRollout(program: Command): void {
  const rollout = program
    .command('rollout')
    .description('rollouts: which devices get which release, in what phases');

  withConnection(
    rollout
      .command('create')
      .description(
        'offer a release to devices of its class: all at once, or in phases, to a selection',
      ),
  )
    .requiredOption(
      '--release <id|version>',
      'release id (or a unique prefix of it), or its version',
    )
    .option('--class <id>', "device class to target (default: the release's class)", '')
    .option(
      '--phase <percent[:soak]>',
      'a phase reaching PERCENT of the selected devices, running at least SOAK before the next (repeat in order; the last must be 100), e.g. --phase 5:2h --phase 25:1d --phase 100',
      collect,
      [],
    )
    .option('--tag <tag>', 'only devices carrying this tag (repeat: every tag)', collect, [])
    .option('--group <group>', 'only devices in this group (repeat: any of them)', collect, [])
    .option('--device <id>', 'this device, selected by id (repeat)', collect, [])
    .option(
      '--max-failures <n>',
      'pause by itself once this many deployments failed or rolled back',
      positiveInt('--max-failures'),
    )
    .option(
      '--max-failure-ratio <ratio>',
      'pause by itself once more than this share (0-1) of finished deployments failed',
      ratioOption('--max-failure-ratio'),
    )
    .option(
      '--min-finished <n>',
      'count the ratio only once this many deployments finished',
      positiveInt('--min-finished'),
    )
    .option(
      '--window <cron>',
      'maintenance window start, five-field cron, e.g. "0 2 * * *"; outside it devices install but do not reboot into the release',
    )
    .option(
      '--window-duration <duration>',
      'how long the window stays open, e.g. 4h',
      durationOption('--window-duration'),
    )
    .option('--timezone <zone>', 'IANA time zone of the window, e.g. Europe/Berlin')
    .option(
      '--health-watch <duration>',
      'watch each device this long after it commits (agent restarts, periodic health checks, contact) and pause when too many turn unhealthy',
      durationOption('--health-watch'),
    )
    .option(
      '--max-unhealthy <n>',
      'pause once this many watched devices are unhealthy',
      positiveInt('--max-unhealthy'),
    )
    .option(
      '--max-unhealthy-ratio <ratio>',
      'pause once more than this share (0-1) of watched devices are unhealthy',
      ratioOption('--max-unhealthy-ratio'),
    )
    .option(
      '--min-watched <n>',
      'count the unhealthy ratio only once this many devices are watched',
      positiveInt('--min-watched'),
    )
    .option(
      '--max-agent-restarts <n>',
      'a watched device whose agent started more often than this since its commit is unhealthy (default 3)',
      positiveInt('--max-agent-restarts'),
    )
    .action(
      async (options: ConnectionOptions & PlanOptions & { release: string; class: string }) => {
        const plan = planFields(options);
        const releaseId = await resolveRelease(options, options.release, options.class);
        const { client, close } = await connect(FleetService, options);
        try {
          const { rollout: created } = await client.createRollout({
            releaseId,
            classId: options.class,
            ...plan,
          });
          if (created === undefined)
            throw new PendulumError('INTERNAL', 'server returned no rollout');
          print(`rollout ${created.id}: ${created.version} (sequence ${created.sequence})`);
          for (const line of describePlan(created)) print(`  ${line}`);
        } finally {
          close();
        }
      },
    );

  withConnection(rollout.command('list').description('list rollouts, newest first')).action(
    async (options: ConnectionOptions) => {
      const { client, close } = await connect(FleetService, options);
      try {
        const { rollouts } = await client.listRollouts({});
        if (rollouts.length === 0) print('no rollouts');
        for (const r of rollouts) {
          const phase = `phase ${r.currentPhase + 1}/${r.phases.length}`;
          const reason = r.pauseReason === '' ? '' : `  (${r.pauseReason})`;
          print(`${r.id}  ${r.classId}  ${r.version}  ${stateName(r.state)}  ${phase}${reason}`);
        }
      } finally {
        close();
      }
    },
  );

  registerRolloutStatus(rollout);

  const changes = {
    pause: 'stop offering the release to devices that have not started it',
    resume: 'offer a paused rollout again (clears the reason it paused itself for)',
    abort: 'end a rollout for good; offers no device has started are cancelled',
  } as const;
  for (const [verb, description] of Object.entries(changes) as [keyof typeof changes, string][]) {
    withConnection(rollout.command(`${verb} <rollout-id>`).description(description)).action(
      async (rolloutId: string, options: ConnectionOptions) => {
        const { client, close } = await connect(FleetService, options);
        try {
          const call = {
            pause: client.pauseRollout,
            resume: client.resumeRollout,
            abort: client.abortRollout,
          }[verb];
          const { rollout: changed } = await call({ rolloutId });
          print(`rollout ${rolloutId}: ${stateName(changed?.state ?? RolloutState.UNSPECIFIED)}`);
        } finally {
          close();
        }
      },
    );
  }
}

function stateName(state: RolloutState): string {
  return RolloutState[state].toLowerCase();
}

// describePlan says, one line each, whom a rollout reaches and how.
export function describePlan(rollout: Rollout): string[] {
  const lines: string[] = [];
  const selector = rollout.selector;
  const who = [`every "${rollout.classId}" device`];
  if (selector !== undefined) {
    if (selector.tags.length > 0) who.push(`tagged ${selector.tags.join(' and ')}`);
    if (selector.groups.length > 0) who.push(`in group ${selector.groups.join(' or ')}`);
    if (selector.deviceIds.length > 0)
      who.push(
        `${selector.tags.length + selector.groups.length > 0 ? 'plus ' : 'only '}${selector.deviceIds.length} named device(s)`,
      );
  }
  lines.push(`to ${who.join(', ')}`);
  lines.push(
    `phases: ${rollout.phases
      .map((p) => {
        const soak = p.minSoak === undefined ? 0 : Number(p.minSoak.seconds);
        return soak > 0 ? `${p.percent} % (soak ${formatSeconds(soak)})` : `${p.percent} %`;
      })
      .join(' → ')}`,
  );
  const limit = rollout.failureThreshold?.limit;
  if (limit?.case === 'maxFailures')
    lines.push(`pauses itself at ${limit.value} failed or rolled back`);
  if (limit?.case === 'maxFailureRatio')
    lines.push(
      `pauses itself above ${limit.value * 100} % failed (once ${rollout.failureThreshold?.minFinished} finished)`,
    );
  const watch = rollout.healthWatch;
  if (watch !== undefined) {
    const unhealthy = watch.maxUnhealthy?.limit;
    const limit =
      unhealthy?.case === 'maxFailures'
        ? `${unhealthy.value} unhealthy`
        : unhealthy?.case === 'maxFailureRatio'
          ? `more than ${unhealthy.value * 100} % unhealthy`
          : '';
    lines.push(
      `watches devices ${formatSeconds(Number(watch.duration?.seconds ?? 0n))} after commit; pauses itself at ${limit} (over ${watch.maxAgentRestarts} agent restarts, a failed periodic check or lost contact)`,
    );
  }
  const window = rollout.window;
  if (window !== undefined)
    lines.push(
      `activates only in the window "${window.cron}" (${window.timezone}) for ${formatSeconds(Number(window.duration?.seconds ?? 0n))}`,
    );
  return lines;
}

function formatSeconds(seconds: number): string {
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
  ] as const)
    if (seconds >= size && seconds % size === 0) return `${seconds / size}${unit}`;
  return `${seconds}s`;
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
