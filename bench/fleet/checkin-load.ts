// Measures (a) and (b) on one store seeded with a large fleet, mid-rollout:
// devices run release 1 and release 2 reaches 1 % of them so far, so a
// check-in looks up the device's open deployment and the class's active
// rollouts, as it does in a fleet. Echo and check-in rounds alternate so
// that the noise of a shared machine falls on both alike.
import { join } from 'node:path';
import { durationFromMs } from '@bufbuild/protobuf/wkt';
import { median } from '../measure.js';
import {
  measureCheckIns,
  measureLatency,
  type RateResult,
  startEcho,
  startRpcFloor,
} from './checkin-capacity.js';
import { oneCoreNodeFlags } from './child.js';
import { startFleetServer } from './fleet-server.js';
import type { GcPauses, Pause } from './gc-meter.js';
import { slowMs, slowSpells } from './load.js';
import type { FleetLoadOptions } from './options.js';
import { seedFleet } from './seed.js';
import type { ServerStats } from './server-process.js';
import { agentChannel, createSimAgent, fastKeyPair } from './sim-agent.js';
import { stallMs } from './stall-meter.js';
import { benchClass, type Vendor } from './vendor.js';

export interface Round {
  readonly echo: RateResult;
  readonly signedEcho: RateResult;
  readonly rpcFloor: RateResult;
  readonly checkIn: RateResult;
}

export interface CheckInLoadResult {
  readonly seedSeconds: number;
  readonly rounds: readonly Round[];
  // Medians over the rounds: calls per second, and per second of one server core.
  readonly echoRate: number;
  readonly checkInRate: number;
  readonly echoPerCore: number;
  // The echo that signs each reply: the floor under a check-in's cost.
  readonly signedEchoRate: number;
  readonly signedEchoPerCore: number;
  // pendulum's RPC layer answering every check-in at once: the floor under
  // any check-in handler.
  readonly rpcFloorRate: number;
  readonly rpcFloorPerCore: number;
  readonly checkInPerCore: number;
  readonly latency:
    | (RateResult & { readonly target: number; readonly server: ServerStats })
    | undefined;
}

const pauses = (gc: GcPauses | undefined) =>
  gc === undefined
    ? '-'
    : `${gc.count} (${gc.major} full), ${gc.totalMs.toFixed(0)} ms, ${gc.maxMs.toFixed(1)} ms, heap ${gc.heapMiB.toFixed(0)} MiB`;

// timeline says when a process's full collections and stalls were, relative
// to the open loop's start, to line them up with its slow spells.
const timeline = (
  gc: GcPauses | undefined,
  stalls: readonly Pause[] | undefined,
  startedAtMs: number | undefined,
) => {
  if (gc === undefined || stalls === undefined || startedAtMs === undefined) return '-';
  const at = (p: Pause) => `${((p.atMs - startedAtMs) / 1000).toFixed(2)}: ${p.ms.toFixed(0)}`;
  const events = [
    ...gc.full.map((p) => `full GC ${at(p)}`),
    ...stalls.map((p) => `stall ${at(p)}`),
  ];
  return events.join(', ') || 'none';
};

// perCore is what one saturated server core would do at this cost per call.
export const perCore = (r: RateResult) => r.perSecond / Math.max(r.serverCpu, 1e-9);

// measureCheckInLoad seeds, starts the echo and the server, and runs the rounds.
export async function measureCheckInLoad(
  dir: string,
  vendor: Vendor,
  options: FleetLoadOptions,
  log: (line: string) => void,
): Promise<CheckInLoadResult> {
  const dataDir = join(dir, 'capacity');
  const keys = Array.from({ length: Math.max(options.inFlight, options.latencyAgents) }, () =>
    fastKeyPair(),
  );
  const seeded = await seedFleet(
    join(dataDir, 'pendulum.sqlite'),
    options.devices,
    keys,
    3_600_000,
  );
  log(`seeded ${options.devices.toLocaleString('en')} devices in ${seeded.seconds.toFixed(1)} s`);
  // Seeding a million devices leaves this process's old generation full of
  // their keys; collected now, not in the middle of the latency window, where
  // the load generator's own pause would count against the server. (Run
  // with --expose-gc, as package.json does.)
  (globalThis as { gc?: () => void }).gc?.();
  const echo = await startEcho(options.inFlight);
  const floor = await startRpcFloor();
  const profile = options.cpuProfileDir;
  const server = await startFleetServer(dataDir, vendor, { poll_interval: '5m' }, [
    ...oneCoreNodeFlags,
    ...(profile === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profile}`]),
  ]);
  // The first `inFlight` agents have a connection each; the rest share one.
  const agents = seeded.agents.map((agent, i) =>
    createSimAgent({
      channel: agentChannel(server.address, i < options.inFlight),
      key: agent.key,
      token: agent.token,
      root: vendor.root,
    }),
  );
  // The capacity agents again, each with a connection of its own to the floor.
  const floorAgents = seeded.agents.slice(0, options.inFlight).map((agent) =>
    createSimAgent({
      channel: agentChannel(floor.address, true),
      key: agent.key,
      token: agent.token,
      root: vendor.root,
    }),
  );
  try {
    // The capacity agents authenticate for real (a signed Authenticate each);
    // the others hold tokens the seeding wrote as Authenticate writes them.
    await Promise.all(agents.slice(0, options.inFlight).map((agent) => agent.authenticate()));
    await server.publishImage(new Uint8Array(64 * 1024).fill(1), 1);
    const next = await server.publishImage(new Uint8Array(64 * 1024).fill(2), 2);
    await server.publisher.fleet.createRollout({
      releaseId: next,
      classId: benchClass,
      phases: [
        { percent: 1, minSoak: durationFromMs(3_600_000) },
        { percent: 100, minSoak: durationFromMs(0) },
      ],
    });
    const cpu = () => server.child.cpuSeconds();
    const warmup = options.seconds / 3;
    const rounds: Round[] = [];
    const stats = async () => JSON.parse(await server.child.request('stats')) as ServerStats;
    for (let i = 0; i < options.rounds; i++) {
      const e = await echo.measure(options.seconds, warmup);
      const signed = await echo.measure(options.seconds, warmup, true);
      // Its replies are empty: nothing to verify.
      const f = await measureCheckIns(
        floorAgents,
        floor.cpuSeconds,
        options.seconds,
        warmup,
        Number.POSITIVE_INFINITY,
      );
      await stats();
      const c = await measureCheckIns(
        agents.slice(0, options.inFlight),
        cpu,
        options.seconds,
        warmup,
        options.verifyEvery,
      );
      if (c.errors > 0 || e.errors > 0 || signed.errors > 0 || f.errors > 0)
        throw new Error(
          `round ${i + 1} failed: ${String(c.firstError ?? e.firstError ?? signed.firstError ?? f.firstError)}`,
        );
      const s = await stats();
      log(
        `round ${i + 1}: echo ${describe(e)}; signed echo ${describe(signed)}; RPC floor ${describe(f)}; check-in ${describe(c)}; ratio ${(c.perSecond / e.perSecond).toFixed(2)}, per core ${(perCore(c) / perCore(e)).toFixed(2)}; ${s.commits} commits in ${s.syncs} WAL syncs`,
      );
      rounds.push({ echo: e, signedEcho: signed, rpcFloor: f, checkIn: c });
    }
    const checkInRate = median(rounds.map((r) => r.checkIn.perSecond));
    let latency: CheckInLoadResult['latency'];
    if (options.only.has('latency')) {
      const target = checkInRate / 2;
      // A fleet's devices are connected and hold tokens: one check-in each
      // first, not measured, some of them checked as the agent checks them.
      // (Not while measuring: a check in tweetnacl stalls this process for
      // milliseconds, and every reply due meanwhile would count it.)
      const spread = agents.slice(0, options.latencyAgents);
      let n = 0;
      await closedLoopOver(spread, options.inFlight, (agent) =>
        agent.checkInBytes(n++ % options.verifyEvery === 0),
      );
      await stats();
      const result = await measureLatency(
        agents.slice(0, options.latencyAgents),
        cpu,
        target,
        options.seconds,
      );
      const server = await stats();
      log(
        `open loop at ${target.toFixed(0)}/s over ${options.latencyAgents} devices: ${describe(result)}; calls over ${slowMs} ms by when they were due (spells): ${slowSpells(result.slowDueMs ?? [])}; event loop delay p99 / max: server ${server.loopP99Ms.toFixed(1)} / ${server.loopMaxMs.toFixed(0)} ms, load generator ${(result.clientLoopP99Ms ?? 0).toFixed(1)} / ${(result.clientLoopMaxMs ?? 0).toFixed(0)} ms; GC pauses (count, total, longest): server ${pauses(server.gc)}, load generator ${pauses(result.clientGc)}; full GCs and stalls over ${stallMs} ms (s after the start: ms): server ${timeline(server.gc, server.stalls, result.startedAtMs)}, load generator ${timeline(result.clientGc, result.clientStalls, result.startedAtMs)}; ${server.commits} commits in ${server.syncs} WAL syncs, each sync p50 ${server.syncP50Ms.toFixed(1)} ms, p99 ${server.syncP99Ms.toFixed(1)} ms, max ${server.syncMaxMs.toFixed(0)} ms`,
      );
      latency = { ...result, target, server };
    }
    return {
      seedSeconds: seeded.seconds,
      rounds,
      echoRate: median(rounds.map((r) => r.echo.perSecond)),
      checkInRate,
      echoPerCore: median(rounds.map((r) => perCore(r.echo))),
      signedEchoRate: median(rounds.map((r) => r.signedEcho.perSecond)),
      signedEchoPerCore: median(rounds.map((r) => perCore(r.signedEcho))),
      rpcFloorRate: median(rounds.map((r) => r.rpcFloor.perSecond)),
      rpcFloorPerCore: median(rounds.map((r) => perCore(r.rpcFloor))),
      checkInPerCore: median(rounds.map((r) => perCore(r.checkIn))),
      latency,
    };
  } finally {
    for (const agent of [...agents, ...floorAgents]) agent.close();
    await server.stop();
    await floor.stop();
    await echo.stop();
  }
}

// closedLoopOver calls `fn` once for every item, `inFlight` at a time.
async function closedLoopOver<T>(
  items: readonly T[],
  inFlight: number,
  fn: (item: T) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < items.length) {
        const item = items[next++] as T;
        await fn(item);
      }
    }),
  );
}

function describe(r: RateResult): string {
  return `${r.perSecond.toFixed(0)}/s, server core ${Math.round(r.serverCpu * 100)} % busy, load generator ${Math.round(r.clientCpu * 100)} %`;
}
