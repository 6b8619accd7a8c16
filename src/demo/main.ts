// `npm run demo`: a whole update story on embedded defaults, through the real
// CLI — a server, keys, a trust root, two signed releases, and a simulated
// device that commits 1.1.0 and rolls 1.2.0 back when its health check fails.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { cliPath, createSimulatedDevice, type SimulatedDevice } from './simulated-device.js';

const classId = 'acme-gateway';
const slotBytes = 16 * 1024 * 1024;
const imageBytes = 8 * 1024 * 1024;

const say = (line: string) => process.stdout.write(`${line}\n`);

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'pendulum-demo-'));
  const server = await startServer(join(dir, 'server'));
  try {
    const cli = (...args: string[]) =>
      run([...args], { PENDULUM_SERVER: server.address, PENDULUM_TOKEN: server.token });
    say(`demo: server on ${server.address}, data in ${dir}/server`);

    say('demo: manufacturer makes keys and a trust root');
    await cli('keygen', '--out', join(dir, 'keys/root'));
    await cli('keygen', '--out', join(dir, 'keys/release'));
    const root = join(dir, 'root.json');
    await cli(
      'trust',
      'init',
      '--vendor',
      'acme',
      '--root-key',
      join(dir, 'keys/root.key'),
      '--release-key',
      join(dir, 'keys/release.pub'),
      // The server made its online timestamp key on its first start.
      '--timestamp-key',
      join(dir, 'server/timestamp.pub'),
      '--out',
      root,
    );
    await cli('trust', 'push', root);

    say('demo: the factory makes the device key and preauthorizes it on the server');
    await cli('keygen', '--out', join(dir, 'device/device'));
    await cli(
      'devices',
      'preauthorize',
      '--key',
      join(dir, 'device/device.pub'),
      '--class',
      classId,
    );

    say('demo: device A/B slots on files; slot A runs the factory image 1.0.0');
    const slots = { A: join(dir, 'device/slot-a.img'), B: join(dir, 'device/slot-b.img') };
    await writeImage(slots.A, '1.0.0', true, slotBytes);
    await writeImage(slots.B, 'empty', false, slotBytes);
    const device = await createSimulatedDevice({
      dir: join(dir, 'device'),
      serverAddress: server.address,
      classId,
      trustRootFile: root,
      slots,
      factoryVersion: '1.0.0',
      factorySequence: 1,
      key: join(dir, 'device/device.key'),
      healthChecks: [
        {
          name: 'image self-test',
          command: ['sh', '-c', 'head -c 64 "$PENDULUM_SLOT_DEVICE" | grep -q healthy=yes'],
          timeout: '10s',
        },
      ],
    });
    await settle(device);

    const first = await release(cli, dir, root, '1.1.0', 2, true);
    await cli('rollout', 'create', '--release', first);
    await settle(device);
    const afterFirst = await device.journal();

    const second = await release(cli, dir, root, '1.2.0', 3, false);
    await cli('rollout', 'create', '--release', second);
    await settle(device);
    const afterSecond = await device.journal();

    say('demo: what the server recorded');
    for (const line of (await cli('devices')).split('\n').filter((l) => l !== '')) say(`  ${line}`);

    const devices = JSON.parse(await cli('devices', '--json')) as {
      devices: { deployments: { version: string; state: string; errorCode?: string }[] }[];
    };
    const history = devices.devices[0]?.deployments ?? [];
    const stateOf = (version: string) => history.find((d) => d.version === version);
    const committed =
      afterFirst.committed.version === '1.1.0' &&
      stateOf('1.1.0')?.state === 'DEPLOYMENT_STATE_COMMITTED';
    const rolledBack =
      afterSecond.committed.version === '1.1.0' &&
      stateOf('1.2.0')?.state === 'DEPLOYMENT_STATE_ROLLED_BACK' &&
      stateOf('1.2.0')?.errorCode === 'HEALTH_CHECK_FAILED';
    if (!committed || !rolledBack)
      throw new Error(
        `unexpected outcome: ${JSON.stringify({ afterFirst: afterFirst.committed, afterSecond: afterSecond.committed, history })}`,
      );
    say('demo: 1.0.0 -> 1.1.0 committed');
    say('demo: 1.1.0 -> 1.2.0 rolled back (health check failed)');
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

// release builds, publishes and returns the id of a signed release.
async function release(
  cli: (...args: string[]) => Promise<string>,
  dir: string,
  root: string,
  version: string,
  sequence: number,
  healthy: boolean,
): Promise<string> {
  say(
    `demo: manufacturer signs and publishes ${version}${healthy ? '' : ' (its health check will fail on the device)'}`,
  );
  const image = join(dir, `rootfs-${version}.img`);
  await writeImage(image, version, healthy, imageBytes);
  const bundle = join(dir, `release-${version}.pbundle`);
  await cli(
    'release',
    'create',
    '--image',
    image,
    '--trust-root',
    root,
    '--class',
    classId,
    '--version',
    version,
    '--sequence',
    String(sequence),
    '--key',
    join(dir, 'keys/release.key'),
    '--out',
    bundle,
  );
  const out = await cli('release', 'publish', bundle);
  const id = /release ([0-9a-f]{64})/.exec(out)?.[1];
  if (id === undefined) throw new Error(`no release id in: ${out}`);
  return id;
}

// settle runs the device's agent until it is idle, printing each transition.
async function settle(device: SimulatedDevice): Promise<void> {
  for (let runs = 0; runs < 20; runs++) {
    const result = await device.runAgent();
    for (const line of result.stderr.split('\n')) {
      const msg = parseLog(line);
      if (msg !== undefined) say(`  device: ${msg}`);
    }
    if (result.code !== 0)
      throw new Error(`agent exited ${result.code ?? result.signal}: ${result.stderr.trim()}`);
    if (result.result === 'idle') return;
    say(`  device: rebooting... bootloader chose slot ${await device.boot()}`);
  }
  throw new Error('the device did not settle');
}

function parseLog(line: string): string | undefined {
  try {
    const entry = JSON.parse(line) as { msg?: string; level?: number };
    if (entry.msg === undefined) return undefined;
    if (
      entry.msg.startsWith('agent: ') ||
      entry.msg.startsWith('update to') ||
      entry.msg.startsWith('offer rejected')
    )
      return entry.msg.replace(/^agent: /, '');
    return undefined;
  } catch {
    return undefined;
  }
}

// writeImage makes a stand-in root filesystem: a header the health check reads, then noise.
async function writeImage(
  path: string,
  version: string,
  healthy: boolean,
  bytes: number,
): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const header = Buffer.alloc(64, ' ');
  header.write(`pendulum-demo-image version=${version} healthy=${healthy ? 'yes' : 'no'}\n`);
  const handle = await open(path, 'w');
  try {
    await handle.write(header);
    for (let at = header.length; at < bytes; at += 1024 * 1024)
      await handle.write(randomBytes(Math.min(1024 * 1024, bytes - at)));
  } finally {
    await handle.close();
  }
}

// run runs one CLI command, echoing it, and returns its stdout.
function run(args: string[], env: Record<string, string>): Promise<string> {
  say(
    `  $ pendulum ${args.map((a) => (a.includes('/') ? a.replace(/^.*\/pendulum-demo-[^/]+\//, '') : a)).join(' ')}`,
  );
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve(stdout)
        : reject(new Error(`pendulum ${args.join(' ')} exited ${code}: ${stderr.trim()}`)),
    );
  });
}

// startServer runs `pendulum server` on a port the OS picks and reads its admin token.
async function startServer(
  dataDir: string,
): Promise<{ address: string; token: string; stop: () => Promise<void> }> {
  const child: ChildProcess = spawn(
    process.execPath,
    [cliPath, 'server', '--data-dir', dataDir, '--listen', '127.0.0.1:0'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  let token = '';
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  for await (const line of lines) {
    token ||= /^admin token[^:]*: (\S+)/.exec(line)?.[1] ?? '';
    const address = /listening on (\S+)/.exec(line)?.[1];
    if (address !== undefined) return { address, token, stop };
  }
  throw new Error('the server exited before it listened');
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(
      `demo failed: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exit(1);
  },
);
