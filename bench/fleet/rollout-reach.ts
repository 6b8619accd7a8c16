// Measure (d): how long a phased rollout takes to reach a fleet. Every
// simulated device polls at the server's poll interval (with jitter); one
// that is offered the release downloads it into its simulated slot and
// reports its way to "committed", as the agent does. The clock starts when
// the rollout is created.
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { durationFromMs } from '@bufbuild/protobuf/wkt';
import type { Client as GrpcClient } from '@grpc/grpc-js';
import { startFleetServer } from './fleet-server.js';
import { seedFleet } from './seed.js';
import { agentChannel, createSimAgent, fastKeyPair, type SimAgent } from './sim-agent.js';
import { benchClass, type Vendor } from './vendor.js';

export interface ReachOptions {
  readonly devices: number;
  readonly pollSeconds: number;
  readonly phases: readonly { readonly percent: number; readonly soakSeconds: number }[];
  readonly payloadKiB: number;
  // Connections the devices share (a fleet behind a few proxies, as it were).
  readonly connections: number;
  // One device in this many checks every reply and the manifest as the agent does.
  readonly verifyEvery: number;
  // How long writing the slot and rebooting into it take on a device.
  readonly installMs: number;
  readonly rebootMs: number;
  readonly timeoutSeconds: number;
}

export interface ReachResult {
  // Seconds from rollout creation until the last device was offered, and committed.
  readonly offeredSeconds: number | undefined;
  readonly committedSeconds: number | undefined;
  readonly offered: number;
  readonly committed: number;
  readonly checkIns: number;
  // Reports sent again after a timeout (the agent's outbox does the same).
  readonly reportRetries: number;
  // Check-ins and installs that failed (a device retries at its next poll).
  readonly errors: number;
  readonly firstError?: unknown;
}

// measureRolloutReach runs a fresh server with `devices` devices and one rollout.
export async function measureRolloutReach(
  dir: string,
  vendor: Vendor,
  options: ReachOptions,
): Promise<ReachResult> {
  const dataDir = join(dir, 'reach');
  const keys = Array.from({ length: options.devices }, () => fastKeyPair());
  const seeded = await seedFleet(join(dataDir, 'pendulum.sqlite'), 0, keys, 3_600_000);
  const server = await startFleetServer(dataDir, vendor, {
    poll_interval: `${options.pollSeconds}s`,
    rollout_interval: '1s',
  });
  const channels: GrpcClient[] = Array.from({ length: options.connections }, () =>
    agentChannel(server.address, true),
  );
  const agents = seeded.agents.map((agent, i) =>
    createSimAgent({
      channel: channels[i % channels.length] as GrpcClient,
      key: agent.key,
      token: agent.token,
      root: vendor.root,
    }),
  );
  const stop = new AbortController();
  // Every device's sleeps wait on this one signal.
  setMaxListeners(0, stop.signal);
  let rolloutAt = Number.NaN;
  let lastOffer = Number.NaN;
  let lastCommit = Number.NaN;
  let offered = 0;
  let committed = 0;
  let checkIns = 0;
  let errors = 0;
  let firstError: unknown;
  const failed = (error: unknown) => {
    if (stop.signal.aborted) return;
    errors++;
    firstError ??= error;
  };

  // poll is one device's life: check in, install what it is offered, wait, again.
  const poll = async (agent: SimAgent, verify: boolean) => {
    let installing = false;
    let wasOffered = false;
    const pollMs = options.pollSeconds * 1000;
    await sleep(Math.random() * pollMs, undefined, { signal: stop.signal });
    for (;;) {
      const reply = await agent.checkIn(verify).catch(failed);
      checkIns++;
      const offer = reply?.offer;
      if (offer !== undefined && !installing && agent.committedSequence < 2) {
        if (!wasOffered) {
          wasOffered = true;
          offered++;
          lastOffer = performance.now();
        }
        installing = true;
        agent.install(offer, verify, options, stop.signal).then(
          () => {
            committed++;
            lastCommit = performance.now();
          },
          (error: unknown) => {
            installing = false;
            failed(error);
          },
        );
      }
      await sleep(pollMs * (0.9 + Math.random() * 0.2), undefined, { signal: stop.signal });
    }
  };

  try {
    const releaseId = await server.publishImage(randomBytes(options.payloadKiB * 1024), 2);
    const lives = agents.map((agent, i) =>
      poll(agent, i % options.verifyEvery === 0).catch((error: unknown) => failed(error)),
    );
    // Every device has checked in once before the rollout starts.
    await sleep(options.pollSeconds * 1000);
    rolloutAt = performance.now();
    await server.publisher.fleet.createRollout({
      releaseId,
      classId: benchClass,
      phases: options.phases.map((phase) => ({
        percent: phase.percent,
        minSoak: durationFromMs(phase.soakSeconds * 1000),
      })),
    });
    const deadline = rolloutAt + options.timeoutSeconds * 1000;
    while (committed < options.devices && performance.now() < deadline) await sleep(250);
    stop.abort();
    await Promise.all(lives);
    const since = (at: number, count: number) =>
      count === options.devices ? (at - rolloutAt) / 1000 : undefined;
    return {
      offeredSeconds: since(lastOffer, offered),
      committedSeconds: since(lastCommit, committed),
      offered,
      committed,
      checkIns,
      reportRetries: agents.reduce((sum, agent) => sum + agent.reportRetries, 0),
      errors,
      firstError,
    };
  } finally {
    stop.abort();
    for (const channel of channels) channel.close();
    await server.stop();
  }
}
