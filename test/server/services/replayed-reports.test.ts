// Uptane's replayed device report: every report carries a sequence, and the
// server records a deployment's reports only in strictly increasing order.
// A report replayed (or retried after a lost acknowledgement) is acknowledged
// and changes nothing: not the state, not the history, not the audit log.
import { credentials, Client as GrpcClient } from '@grpc/grpc-js';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeploymentState, DeviceService } from '../../../src/gen/pendulum/v1/device_pb.js';
import { bearer } from '../../../src/rpc/auth.js';
import { createClient } from '../../../src/rpc/client.js';
import { type Fleet, startFleet } from '../../support/fleet.js';
import { makeImage } from '../../support/images.js';
import { makeTempDir } from '../../support/temp-dir.js';

let dir: { path: string; remove: () => Promise<void> };
let fleet: Fleet;
let channel: GrpcClient;

beforeAll(async () => {
  dir = await makeTempDir('replayed-reports');
  fleet = await startFleet(dir.path);
  channel = new GrpcClient(fleet.address, credentials.createInsecure());
});
afterAll(async () => {
  channel.close();
  await fleet.close();
  await dir.remove();
});

async function deviceWithOffer(sequence: number) {
  const { deviceId, token } = await fleet.newDevice();
  const client = createClient(DeviceService, channel, () => bearer(token));
  const image = makeImage(`replay-${sequence}`, { bytes: 4096 });
  const deploymentId = await fleet.inject(fleet.sign(image, { sequence }), image, deviceId);
  return { client, deploymentId };
}

describe('device reports', () => {
  it('survives a replayed device report: an earlier report sent again after commit changes nothing', async () => {
    const { client, deploymentId } = await deviceWithOffer(50);
    const downloading = {
      deploymentId,
      state: DeploymentState.DOWNLOADING,
      bytesDone: 1024n,
      bytesTotal: 4096n,
      sequence: 1n,
    };
    await client.report(downloading);
    await client.report({
      deploymentId,
      state: DeploymentState.COMMITTED,
      bytesDone: 4096n,
      bytesTotal: 4096n,
      sequence: 2n,
    });
    const { store } = fleet.server.context;
    const events = await store.deployments.events(deploymentId);
    const audit = await store.audit.list({ limit: 1000 });

    // Replayed: acknowledged, so a device retrying it would stop, and not recorded.
    await expect(client.report(downloading)).resolves.toEqual(expect.anything());
    await client.report({ ...downloading, state: DeploymentState.FAILED, errorCode: 'INTERNAL' });

    const after = await store.deployments.get(deploymentId);
    expect(after?.state).toBe('committed');
    expect(after?.reportSequence).toBe(2);
    expect(await store.deployments.events(deploymentId)).toEqual(events);
    expect(await store.audit.list({ limit: 1000 })).toEqual(audit);
  });

  it('records a retried final report once', async () => {
    const { client, deploymentId } = await deviceWithOffer(51);
    const failed = {
      deploymentId,
      state: DeploymentState.FAILED,
      errorCode: 'DIGEST_MISMATCH',
      sequence: 7n,
    };
    await client.report(failed);
    await client.report(failed);
    const states = (await fleet.server.context.store.deployments.events(deploymentId)).map(
      (e) => e.state,
    );
    expect(states).toEqual(['offered', 'failed']);
  });

  it('records a final report and its audit record together: one that cannot be audited is not recorded, and its retry records both', async () => {
    const { client, deploymentId } = await deviceWithOffer(53);
    const { store } = fleet.server.context;
    const committed = {
      deploymentId,
      state: DeploymentState.COMMITTED,
      bytesDone: 4096n,
      bytesTotal: 4096n,
      sequence: 1n,
    };
    // The audit log refuses the record, as a replica dying between the two writes would lose it.
    await sql`CREATE TEMP TRIGGER audit_down BEFORE INSERT ON audit_log
      BEGIN SELECT RAISE(ABORT, 'audit log unavailable'); END`.execute(store.db);
    try {
      await expect(client.report(committed)).rejects.toThrow();
    } finally {
      await sql`DROP TRIGGER audit_down`.execute(store.db);
    }
    const untouched = await store.deployments.get(deploymentId);
    expect(untouched).toMatchObject({ state: 'offered', reportSequence: 0 });

    // The device retries the same report.
    await client.report(committed);
    expect((await store.deployments.events(deploymentId)).map((e) => e.state)).toEqual([
      'offered',
      'committed',
    ]);
    const audited = await store.audit.list({ limit: 10, subject: deploymentId });
    expect(audited.map((entry) => entry.action)).toEqual(['deployment.committed']);
  });

  it('rejects a report without a sequence', async () => {
    const { client, deploymentId } = await deviceWithOffer(52);
    await expect(
      client.report({ deploymentId, state: DeploymentState.DOWNLOADING }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect((await fleet.server.context.store.deployments.get(deploymentId))?.state).toBe('offered');
  });
});
