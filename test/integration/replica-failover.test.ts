// Two `pendulum server` replicas share one PostgreSQL database, one payload
// directory and one timestamp key, behind nginx as the gRPC load balancer.
// One replica is killed (SIGKILL) in the middle of a phased rollout: every
// device still ends committed, exactly once, and the database holds every
// device report and every audit record exactly once.
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { credentials, Client as GrpcClient } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetService } from '../../src/gen/pendulum/v1/fleet_pb.js';
import { PublisherService } from '../../src/gen/pendulum/v1/publisher_pb.js';
import { bearer } from '../../src/rpc/auth.js';
import { createClient } from '../../src/rpc/client.js';
import type { Client } from '../../src/rpc/types.js';
import { openDatabase } from '../../src/server/store/database.js';
import { createStore, type Store } from '../../src/server/store/index.js';
import { formatSignedFile, generateKeyPair } from '../../src/trust/index.js';
import { makeDevice, type TestDevice } from '../support/device.js';
import { driveDevices } from '../support/drive-devices.js';
import { testClass, uploadPayload, writeTestTimestampKey } from '../support/fleet.js';
import { makeImage } from '../support/images.js';
import { type Nginx, nginxSkipReason, startNginx } from '../support/nginx.js';
import { createTempDatabase, postgresSkipReason, type TempDatabase } from '../support/postgres.js';
import {
  createApiToken,
  type ServerProcess,
  startServerProcess,
  writeServerConfig,
} from '../support/server-process.js';
import { makeTempDir } from '../support/temp-dir.js';
import { pause, until } from '../support/until.js';
import { rootDocument, signImage } from '../support/vendor.js';

const skipReason = nginxSkipReason() ?? postgresSkipReason();

// Bounded for two busy cores: a dozen devices, three agents running at once.
const deviceCount = 12;
const concurrency = 3;
// Three phases, each soaking a second; both replicas' controllers tick every 500 ms.
const phases = [
  { percent: 30, minSoak: { seconds: 1n } },
  { percent: 60, minSoak: { seconds: 1n } },
  { percent: 100, minSoak: {} },
];

describe.skipIf(skipReason !== undefined)('two server replicas behind nginx', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let database: TempDatabase;
  const replicas: ServerProcess[] = [];
  let proxy: Nginx | undefined;
  let channel: GrpcClient | undefined;
  let store: Store | undefined;
  let publisher: Client<(typeof PublisherService)['method']>;
  let fleet: Client<(typeof FleetService)['method']>;
  let failed = false;
  const rootKey = generateKeyPair();
  const releaseKey = generateKeyPair();
  const trustRootFile = () => join(dir.path, 'root.json');

  beforeAll(async () => {
    dir = await makeTempDir('replicas');
    database = await createTempDatabase({ migrated: true });
    // Made before either replica starts, so neither makes an admin token of its own.
    const token = await createApiToken(database.url, 'replica-test', 'admin');
    // One config for both: the same database, data directory (payloads) and timestamp key.
    const configFile = join(dir.path, 'server.toml');
    await writeServerConfig(configFile, {
      data_dir: join(dir.path, 'shared'),
      database: database.url,
      timestamp_key: await writeTestTimestampKey(join(dir.path, 'keys')),
      listen: '127.0.0.1:0',
      admission: 'accept',
      poll_interval: '1s',
      rollout_interval: '500ms',
      // Behind nginx every device comes from nginx's address.
      auth_rate: { per_peer: 100_000 },
    });
    replicas.push(
      ...(await Promise.all(
        [0, 1].map((i) =>
          startServerProcess({
            name: `replica-${i}`,
            configFile,
            logFile: join(dir.path, `replica-${i}.log`),
          }),
        ),
      )),
    );
    // The token made beforehand is the database's: neither replica makes one of its own.
    expect(replicas.map((replica) => replica.adminToken)).toEqual([undefined, undefined]);
    proxy = await startNginx({
      dir: join(dir.path, 'nginx'),
      upstreams: replicas.map((replica) => replica.address),
    });
    channel = new GrpcClient(proxy.address, credentials.createInsecure());
    publisher = createClient(PublisherService, channel, () => bearer(token));
    fleet = createClient(FleetService, channel, () => bearer(token));
    store = createStore(await openDatabase({ url: database.url }));
    const root = rootDocument({
      version: 1,
      rootKeys: [rootKey],
      releaseKeys: [releaseKey],
      signers: [rootKey],
    });
    await writeFile(trustRootFile(), formatSignedFile(root));
    await publisher.putTrustRoot({ trustRoot: root });
  }, 120_000);

  afterAll(async () => {
    channel?.close();
    await proxy?.stop();
    await Promise.all(replicas.map((replica) => replica.stop()));
    await store?.close();
    if (failed) {
      console.error(
        `replica fail-over test failed: servers', nginx's and devices' files kept in ${dir.path}`,
      );
      return;
    }
    await database?.drop();
    await dir?.remove();
  }, 60_000);

  it('every device commits exactly once, with every report and audit record once, when a replica is killed mid-rollout', async ({
    onTestFailed,
  }) => {
    onTestFailed(() => {
      failed = true;
    });
    const started = Date.now();
    if (store === undefined || proxy === undefined) throw new Error('setup failed');
    const db = store.db;
    const lb = proxy;
    const [victim, survivor] = replicas as [ServerProcess, ServerProcess];
    const devices: TestDevice[] = await Promise.all(
      Array.from({ length: deviceCount }, (_, i) =>
        makeDevice(join(dir.path, `device-${i}`), {
          address: lb.address,
          trustRootFile: trustRootFile(),
        }),
      ),
    );
    // First contact: each device checks in once with its factory release.
    await driveDevices(devices, {
      done: async () => true,
      concurrency,
      maxFailedRuns: 0,
      timeoutMs: 60_000,
    });

    const image = makeImage('2.0.0');
    await uploadPayload(publisher, image);
    const published = await publisher.publishRelease({
      manifest: signImage(image, [releaseKey], { version: '2.0.0', sequence: 2 }),
    });
    const releaseId = published.release?.id ?? '';
    const created = await fleet.createRollout({ releaseId, classId: testClass, phases });
    const rolloutId = created.rollout?.id ?? '';
    expect(rolloutId).not.toBe('');

    const committed = async () =>
      Number(
        (
          await db
            .selectFrom('deployments')
            .select((eb) => eb.fn.countAll<string>().as('n'))
            .where('release_id', '=', releaseId)
            .where('state', '=', 'committed')
            .executeTakeFirstOrThrow()
        ).n,
      );
    // As soon as a device has committed, while the rest are still
    // downloading, rebooting or waiting for their phase, one replica hangs
    // (SIGSTOP: calls routed to it stall mid-flight), then dies (SIGKILL).
    let driving = true;
    const killing = (async () => {
      await until(async () => !driving || (await committed()) >= 1, 150_000);
      if (!driving) return undefined;
      const committedBefore = await committed();
      const frozenAt = Date.now();
      victim.freeze();
      await pause(2000);
      const at = Date.now();
      await victim.kill();
      return { frozenAt, at, committedBefore };
    })();
    const done = async (device: TestDevice) => {
      const journal = await device.journal();
      return (
        journal.committed.sequence === 2 &&
        journal.machine.name === 'idle' &&
        journal.outbox.length === 0
      );
    };
    const drive = await driveDevices(devices, {
      done,
      concurrency,
      maxFailedRuns: 5,
      timeoutMs: 150_000,
    }).finally(() => {
      driving = false;
    });
    const kill = await killing;
    if (kill === undefined) throw new Error('the replica was never killed');
    expect(kill.committedBefore).toBeLessThan(deviceCount);

    // Every device runs the new release, and the server holds exactly one
    // deployment of it per device (never assigned twice), committed.
    const ids = new Map<string, TestDevice>();
    for (const device of devices) ids.set(await device.deviceId(), device);
    const deployments = await db
      .selectFrom('deployments')
      .select(['id', 'device_id', 'state', 'report_sequence'])
      .where('release_id', '=', releaseId)
      .execute();
    expect(deployments.map((d) => d.device_id).sort()).toEqual([...ids.keys()].sort());
    for (const deployment of deployments) {
      const device = ids.get(deployment.device_id) as TestDevice;
      const journal = await device.journal();
      expect(journal.committed).toMatchObject({ slot: 'B', version: '2.0.0', sequence: 2 });
      expect(deployment.state).toBe('committed');
      // Every report the device made is recorded, once: one event per report
      // sequence, after the server's own "offered".
      expect(Number(deployment.report_sequence)).toBe(journal.reportSequence);
      const events = (
        await db
          .selectFrom('deployment_events')
          .select('state')
          .where('deployment_id', '=', deployment.id)
          .orderBy('id')
          .execute()
      ).map((e) => e.state);
      expect(events[0]).toBe('offered');
      expect(events.length - 1).toBe(journal.reportSequence);
      expect(events.filter((state) => state === 'committed')).toEqual(['committed']);
      expect(events.at(-1)).toBe('committed');
    }

    // The audit log: the rollout made once, each phase change once (both
    // replicas' controllers were ticking), each commit once.
    const audit = await db
      .selectFrom('audit_log')
      .select(['action', 'subject', 'detail'])
      .orderBy('id')
      .execute();
    const of = (action: string, subject: string) =>
      audit.filter((entry) => entry.action === action && entry.subject === subject);
    expect(of('release.publish', releaseId)).toHaveLength(1);
    expect(of('rollout.create', rolloutId)).toHaveLength(1);
    expect(
      of('rollout.advance', rolloutId).map(
        (e) => (JSON.parse(e.detail) as { phase: number }).phase,
      ),
    ).toEqual([2, 3]);
    expect(audit.filter((entry) => entry.action === 'rollout.self_pause')).toEqual([]);
    for (const deployment of deployments)
      expect(of('deployment.committed', deployment.id)).toHaveLength(1);
    const status = await fleet.getRolloutStatus({ rolloutId });
    // With PostgreSQL and a configured timestamp key, the replicas share nothing but payloads on disk.
    expect(await readdir(join(dir.path, 'shared'))).toEqual(['payloads']);
    expect(status.rollout?.currentPhase).toBe(phases.length - 1);

    // The kill mattered: the dead replica had served devices before it, and
    // the survivor served them after it.
    const calls = await lb.calls();
    const servedBy = (replica: ServerProcess, from: number, to: number) =>
      calls.filter(
        (call) =>
          call.at >= from &&
          call.at < to &&
          call.upstreams.at(-1) === replica.address &&
          call.grpcStatus === '0',
      ).length;
    const victimBefore = servedBy(victim, 0, kill.frozenAt);
    const survivorBefore = servedBy(survivor, 0, kill.frozenAt);
    const survivorAfter = servedBy(survivor, kill.frozenAt, Number.POSITIVE_INFINITY);
    // Calls that were on the hung replica when it died, cut off by nginx.
    const cut = calls.filter(
      (call) =>
        call.at >= kill.frozenAt &&
        call.upstreams.at(-1) === victim.address &&
        call.grpcStatus !== '0',
    );
    expect(victimBefore).toBeGreaterThan(0);
    expect(cut.length).toBeGreaterThan(0);
    expect(survivorAfter).toBeGreaterThan(0);
    expect(servedBy(victim, kill.at + 1000, Number.POSITIVE_INFINITY)).toBe(0);
    const passedOver = calls.filter((call) => call.upstreams.length > 1).length;
    const noReplica = calls.filter((call) => call.status === 502).length;
    console.info(
      `replica fail-over: ${deviceCount} devices, ${drive.runs} agent runs, ${drive.failedRuns} failed and retried; ` +
        `${victim.name} hung after ${kill.committedBefore} commits and was killed 2 s later, cutting ${cut.length} calls (${cut.map((c) => `${c.path.split('/').at(-1)} ${c.status}`).join(', ')}); calls served: ${victim.name} ${victimBefore}, ` +
        `${survivor.name} ${survivorBefore} before the kill and ${survivorAfter} after; ${passedOver} passed over to the other replica by nginx, ` +
        `${noReplica} answered 502; ${Math.round((Date.now() - started) / 1000)} s`,
    );
    if (drive.failures.length > 0) console.info(`failed runs:\n${drive.failures.join('\n')}`);
  }, 240_000);
});
