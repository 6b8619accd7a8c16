// Measure (a): check-ins per second on one server core against a bare
// grpc-js unary echo on one core, same concurrency, same run; and (b): check-in
// latency under an open-loop load at a given rate.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { create, toBinary } from '@bufbuild/protobuf';
import { Metadata } from '@grpc/grpc-js';
import { CheckInRequestSchema, Slot } from '../../src/gen/pendulum/v1/device_pb.js';
import { oneCoreNodeFlags, spawnPinned } from './child.js';
import { echoPath, signedEchoPath } from './echo-process.js';
import { serverCore } from './fleet-server.js';
import { type GcPauses, gcMeter, type Pause } from './gc-meter.js';
import { closedLoop, type LoadResult, openLoop } from './load.js';
import { agentChannel, type SimAgent } from './sim-agent.js';
import { stallMeter } from './stall-meter.js';

export interface RateResult extends LoadResult {
  // This process's event-loop delay while measured, in ms (a stalled load
  // generator adds to every latency it measures).
  readonly clientLoopP99Ms?: number;
  readonly clientLoopMaxMs?: number;
  // This process's garbage-collection pauses while measured.
  readonly clientGc?: GcPauses;
  // This process's event-loop stalls while measured.
  readonly clientStalls?: readonly Pause[];
  // Share of one core the server process used while measured (1 = all of it).
  readonly serverCpu: number;
  // The same for this process, the load generator.
  readonly clientCpu: number;
}

// cpuMeter reads a process's CPU seconds and this process's at the start of a window.
function cpuMeter(server: () => number) {
  let serverStart = 0;
  let clientStart = process.cpuUsage();
  return {
    start() {
      serverStart = server();
      clientStart = process.cpuUsage();
    },
    shares(seconds: number) {
      const client = process.cpuUsage(clientStart);
      return {
        serverCpu: (server() - serverStart) / seconds,
        clientCpu: (client.user + client.system) / 1e6 / seconds,
      };
    },
  };
}

// A check-in request as the simulated agents send it, for the echo to carry.
export function sampleCheckInBytes(): Buffer {
  return Buffer.from(
    toBinary(
      CheckInRequestSchema,
      create(CheckInRequestSchema, {
        status: {
          bootedSlot: Slot.A,
          installedVersion: '1.1.0',
          committedSequence: 1n,
          trustRootVersion: 1,
          agentState: 'idle',
          inventory: { board: 'bench-board', kernel: '6.1.0', agent: '0.1.0' },
        },
        nonce: new Uint8Array(32),
      }),
    ),
  );
}

export interface EchoServer {
  readonly cpuSeconds: () => number;
  // measure drives the echo like the check-ins: `inFlight` connections, one
  // call each at a time; `signed`: the echo that signs each reply.
  measure(seconds: number, warmupSeconds: number, signed?: boolean): Promise<RateResult>;
  stop(): Promise<void>;
}

// onServerCore runs a baseline child (serve-child.ts) on the server core,
// with the node flags the server runs with.
function onServerCore(name: string) {
  const script = fileURLToPath(new URL(`./${name}`, import.meta.url));
  return spawnPinned<{ address: string }>(script, [], {
    core: serverCore,
    nodeFlags: oneCoreNodeFlags,
  });
}

// startEcho runs the echo child on the server core.
export async function startEcho(inFlight: number): Promise<EchoServer> {
  const child = await onServerCore('echo-process.js');
  const channels = Array.from({ length: inFlight }, () => agentChannel(child.ready.address, true));
  const payload = sampleCheckInBytes();
  const identity = (bytes: Buffer) => bytes;
  // The same call as a check-in on the wire: its bytes, a bearer token and a deadline.
  const metadata = new Metadata();
  metadata.set('authorization', `Bearer pdd_${'x'.repeat(43)}`);
  const call = (worker: number, path: string) =>
    new Promise<void>((resolve, reject) => {
      const channel = channels[worker];
      if (channel === undefined) return reject(new Error(`no channel ${worker}`));
      channel.makeUnaryRequest(
        path,
        identity,
        identity,
        payload,
        metadata,
        { deadline: Date.now() + 30_000 },
        (error) => (error ? reject(error) : resolve()),
      );
    });
  const cpuSeconds = () => child.cpuSeconds();
  return {
    cpuSeconds,
    async measure(seconds, warmupSeconds, signed = false) {
      const cpu = cpuMeter(cpuSeconds);
      const path = signed ? signedEchoPath : echoPath;
      const result = await closedLoop(
        inFlight,
        seconds,
        warmupSeconds,
        (worker) => call(worker, path),
        () => cpu.start(),
      );
      return { ...result, ...cpu.shares(result.seconds) };
    },
    async stop() {
      for (const channel of channels) channel.close();
      await child.stop();
    },
  };
}

export interface RpcFloor {
  readonly address: string;
  readonly cpuSeconds: () => number;
  stop(): Promise<void>;
}

// startRpcFloor runs pendulum's RPC layer with an empty CheckIn
// (rpc-floor-process.ts) on the server core.
export async function startRpcFloor(): Promise<RpcFloor> {
  const child = await onServerCore('rpc-floor-process.js');
  return {
    address: child.ready.address,
    cpuSeconds: () => child.cpuSeconds(),
    stop: () => child.stop(),
  };
}

// measureCheckIns drives `agents` (one call in flight each) against a running server.
export async function measureCheckIns(
  agents: readonly SimAgent[],
  cpuSeconds: () => number,
  seconds: number,
  warmupSeconds: number,
  verifyEvery: number,
): Promise<RateResult> {
  const cpu = cpuMeter(cpuSeconds);
  let n = 0;
  const result = await closedLoop(
    agents.length,
    seconds,
    warmupSeconds,
    async (worker) => {
      const agent = agents[worker];
      if (agent === undefined) throw new Error(`no agent ${worker}`);
      await agent.checkInBytes(++n % verifyEvery === 0);
    },
    () => cpu.start(),
  );
  return { ...result, ...cpu.shares(result.seconds) };
}

// measureLatency checks in at `perSecond` for `seconds`, round-robin over the
// agents (who do not check the replies: that would stall this process).
export async function measureLatency(
  agents: readonly SimAgent[],
  cpuSeconds: () => number,
  perSecond: number,
  seconds: number,
): Promise<RateResult> {
  const cpu = cpuMeter(cpuSeconds);
  cpu.start();
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  const gc = gcMeter();
  const stalls = stallMeter();
  const result = await openLoop(perSecond, seconds, async (i) => {
    const agent = agents[i % agents.length];
    if (agent === undefined) throw new Error(`no agent ${i}`);
    await agent.checkInBytes(false);
  });
  loop.disable();
  const clientGc = gc.read();
  const clientStalls = stalls.read();
  gc.stop();
  stalls.stop();
  return {
    ...result,
    ...cpu.shares(result.seconds),
    clientLoopP99Ms: loop.percentile(99) / 1e6,
    clientLoopMaxMs: loop.max / 1e6,
    clientGc,
    clientStalls,
  };
}
