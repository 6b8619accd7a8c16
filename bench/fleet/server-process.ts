// Child process: a pendulum server with the configuration given as JSON in
// argv[2]. Prints {"address","adminToken"} once listening; then answers each
// "stats" line on stdin with a ServerStats line; SIGTERM or the end of stdin
// closes it.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import { defaultServerConfig } from '../../src/server/config.js';
import { startServer } from '../../src/server/main.js';
import { durabilityStats } from '../../src/server/store/database.js';
import { type GcPauses, gcMeter, type Pause } from './gc-meter.js';
import { stallMeter } from './stall-meter.js';

export interface ServerReady {
  readonly address: string;
  readonly adminToken: string | undefined;
}

// Since the last "stats": the event loop's delays and the WAL syncs, in ms.
export interface ServerStats {
  readonly loopP99Ms: number;
  readonly loopMaxMs: number;
  readonly commits: number;
  readonly syncs: number;
  readonly syncP50Ms: number;
  readonly syncP99Ms: number;
  readonly syncMaxMs: number;
  readonly gc: GcPauses;
  readonly stalls: readonly Pause[];
}

async function main(): Promise<void> {
  const config = defaultServerConfig(JSON.parse(process.argv[2] ?? '{}'));
  const server = await startServer(config, { log: pino({ level: 'silent' }) });
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  const gc = gcMeter();
  const stalls = stallMeter();
  let before = durabilityStats(server.context.store.db);
  const stats = (): ServerStats => {
    const now = durabilityStats(server.context.store.db);
    const syncs = (now?.syncs ?? 0) - (before?.syncs ?? 0);
    // slice(-0) would be every sync ever: none in the window is none.
    const recent =
      syncs === 0
        ? []
        : (now?.recentSyncMs ?? []).slice(-Math.min(syncs, 4096)).sort((a, b) => a - b);
    const at = (p: number) =>
      recent[Math.min(recent.length - 1, Math.floor(p * recent.length))] ?? 0;
    const result = {
      loopP99Ms: loop.percentile(99) / 1e6,
      loopMaxMs: loop.max / 1e6,
      commits: (now?.commits ?? 0) - (before?.commits ?? 0),
      syncs,
      syncP50Ms: at(0.5),
      syncP99Ms: at(0.99),
      syncMaxMs: recent.at(-1) ?? 0,
      gc: gc.read(),
      stalls: stalls.read(),
    };
    before = now;
    loop.reset();
    return result;
  };
  const stop = () => {
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', stop);
  // The parent is gone.
  process.stdin.once('end', stop);
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (line === 'stats') process.stdout.write(`${JSON.stringify(stats())}\n`);
  });
  const ready: ServerReady = { address: server.address, adminToken: server.adminToken };
  process.stdout.write(`${JSON.stringify(ready)}\n`);
}

if (process.argv[1]?.endsWith('server-process.js')) {
  main().catch((error: unknown) => {
    process.stderr.write(
      `server failed: ${error instanceof Error ? error.stack : String(error)}\n`,
    );
    process.exit(1);
  });
}
