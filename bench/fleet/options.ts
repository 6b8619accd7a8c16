// The fleet benchmark's knobs, their defaults (what `npm run bench` runs),
// and the command line that overrides them.

export interface FleetLoadOptions {
  // Devices seeded into the store for the capacity and latency figures.
  readonly devices: number;
  // Calls in flight for the capacity figures (one agent, one connection each).
  readonly inFlight: number;
  // Alternating echo / check-in rounds; the medians are reported.
  readonly rounds: number;
  // Agents the latency load is spread over.
  readonly latencyAgents: number;
  // Measured seconds of each load (after a warm-up of a third of it).
  readonly seconds: number;
  // One check-in reply in this many is checked as the agent checks it.
  readonly verifyEvery: number;
  // Concurrent downloads for the memory figure, the payload, each device's read rate.
  readonly downloads: number;
  readonly payloadMiB: number;
  readonly downloadKiBps: number;
  // Devices the rollout must reach, and the poll interval the server gives them.
  readonly reachDevices: number;
  readonly pollSeconds: number;
  // Write a CPU profile of the server child of the capacity figures here.
  readonly cpuProfileDir: string | undefined;
  // Which measures to run: rate, latency, rss, reach.
  readonly only: ReadonlySet<string>;
}

export const defaultFleetLoadOptions: FleetLoadOptions = {
  devices: 1_000_000,
  inFlight: 64,
  rounds: 3,
  latencyAgents: 1000,
  seconds: 6,
  verifyEvery: 250,
  downloads: 200,
  payloadMiB: 128,
  downloadKiBps: 256,
  reachDevices: 10_000,
  pollSeconds: 20,
  cpuProfileDir: undefined,
  only: new Set(['rate', 'latency', 'rss', 'reach']),
};

const numeric: Readonly<Record<string, keyof FleetLoadOptions>> = {
  '--devices': 'devices',
  '--in-flight': 'inFlight',
  '--rounds': 'rounds',
  '--latency-agents': 'latencyAgents',
  '--seconds': 'seconds',
  '--verify-every': 'verifyEvery',
  '--downloads': 'downloads',
  '--payload-mib': 'payloadMiB',
  '--download-kibps': 'downloadKiBps',
  '--reach-devices': 'reachDevices',
  '--poll-seconds': 'pollSeconds',
};

export const usage = `usage: node dist-bench/bench/fleet-load.js [options]
  ${Object.entries(numeric)
    .map(([flag, key]) => `${flag} N (default ${defaultFleetLoadOptions[key]})`)
    .join('\n  ')}
  --only rate,latency,rss,reach   run only these measures
  --cpu-prof DIR                  profile the server of the capacity figures`;

// parseFleetLoadArgs reads flags over the defaults.
export function parseFleetLoadArgs(argv: readonly string[]): FleetLoadOptions {
  const options: Record<string, unknown> = { ...defaultFleetLoadOptions };
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i] ?? '';
    const value = argv[i + 1] ?? '';
    const key = numeric[flag];
    if (key !== undefined) {
      const n = Number(value);
      if (!Number.isFinite(n) || n < 0) throw new Error(`${flag}: not a number: "${value}"`);
      options[key] = n;
    } else if (flag === '--only') {
      options.only = new Set(value.split(','));
    } else if (flag === '--cpu-prof') {
      options.cpuProfileDir = value;
    } else {
      throw new Error(`unknown argument "${flag}"\n${usage}`);
    }
  }
  return options as unknown as FleetLoadOptions;
}
