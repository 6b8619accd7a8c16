// Post-commit health end to end: a rollout watches its devices after they
// commit; when a committed device's periodic health checks start failing,
// the real agent reports it at its next check-in and the server's rollout
// controller pauses the rollout before it reaches anyone else, saying why.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RolloutState } from '../../src/gen/pendulum/v1/fleet_pb.js';
import { makeDevice } from '../support/device.js';
import { type Fleet, startFleet } from '../support/fleet.js';
import { imageSelfTest, makeImage } from '../support/images.js';
import { makeTempDir } from '../support/temp-dir.js';

describe('post-commit health watch', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let fleet: Fleet;

  beforeAll(async () => {
    dir = await makeTempDir('post-commit-e2e');
    fleet = await startFleet(dir.path);
  });
  afterAll(async () => {
    await fleet.close();
    await dir.remove();
  });

  it('pauses the rollout when a committed device turns unhealthy, and says why', async () => {
    const classId = 'watched';
    // The release passes its trial; later "the service" breaks: the flag file appears.
    const broken = join(dir.path, 'service-broken');
    const device = await makeDevice(join(dir.path, 'device'), fleet, {
      classId,
      healthChecks: [
        imageSelfTest,
        { name: 'service', command: ['sh', '-c', `test ! -e ${broken}`], timeout: '10s' },
      ],
      periodicHealthEvery: '1ms',
    });
    await device.settle();
    const releaseId = await fleet.release(makeImage('2.0.0'), {
      version: '2.0.0',
      sequence: 2,
      classId,
    });
    const { rollout } = await fleet.fleet.createRollout({
      releaseId,
      classId,
      healthWatch: {
        duration: { seconds: 3600n },
        maxUnhealthy: { limit: { case: 'maxFailures', value: 1 } },
      },
    });
    const rolloutId = rollout?.id ?? '';
    await device.settle();
    expect((await device.journal()).committed.version).toBe('2.0.0');

    // Healthy after its commit: the controller keeps the rollout going.
    await device.runAgent();
    expect(await fleet.server.rollouts.tick()).toEqual([]);
    let status = await fleet.fleet.getRolloutStatus({ rolloutId });
    expect([status.watched, status.unhealthy]).toEqual([1, 0]);

    await writeFile(broken, '');
    // One run reruns the checks (and records the failure), the next reports it.
    await device.runAgent();
    await device.runAgent();
    expect((await device.journal()).postCommit?.checksFailed).toBeGreaterThanOrEqual(1);
    const [applied] = await fleet.server.rollouts.tick();
    expect(applied?.decision.kind).toBe('pause');
    status = await fleet.fleet.getRolloutStatus({ rolloutId });
    expect(status.rollout?.state).toBe(RolloutState.PAUSED);
    expect(status.rollout?.pauseReason).toBe(
      'post-commit health: 1 of 1 devices watched after their commit turned unhealthy (0 lost contact, 1 failed periodic health checks, 0 restarted the agent more than 3 times), at the limit of 1',
    );
    expect([status.watched, status.unhealthy]).toEqual([1, 1]);
  });
});
