// Measure (c): the server's resident memory while many devices download a
// large payload at once, each reading at a device's pace (a slow link), so
// HTTP/2 flow control, not the readers, decides how much the server holds.
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startFleetServer } from './fleet-server.js';
import { seedFleet } from './seed.js';
import { agentChannel, createSimAgent, fastKeyPair } from './sim-agent.js';
import { benchClass, type Vendor } from './vendor.js';

export interface DownloadRssOptions {
  readonly downloads: number;
  readonly payloadMiB: number;
  // Each device's read rate.
  readonly bytesPerSecond: number;
  // How long RSS is sampled once every stream is open.
  readonly seconds: number;
}

export interface DownloadRssResult {
  readonly idleRssBytes: number;
  readonly peakRssBytes: number;
  // Streams that delivered bytes during the window.
  readonly streaming: number;
  readonly bytesDelivered: number;
}

// measureDownloadRss runs a fresh server, publishes the payload, has every
// device check in (getting the offer) and download; samples VmRSS every 50 ms.
export async function measureDownloadRss(
  dir: string,
  vendor: Vendor,
  options: DownloadRssOptions,
): Promise<DownloadRssResult> {
  const dataDir = join(dir, 'downloads');
  const keys = Array.from({ length: options.downloads }, () => fastKeyPair());
  const seeded = await seedFleet(join(dataDir, 'pendulum.sqlite'), 0, keys, 3_600_000);
  const server = await startFleetServer(dataDir, vendor, {});
  const agents = seeded.agents.map((agent) =>
    createSimAgent({
      // Each device its own connection, as a fleet's are.
      channel: agentChannel(server.address, true),
      key: agent.key,
      token: agent.token,
      root: vendor.root,
    }),
  );
  const stop = new AbortController();
  // Every stream's pacing waits on this one signal.
  setMaxListeners(0, stop.signal);
  try {
    const image = randomBytes(options.payloadMiB * 1024 * 1024);
    const releaseId = await server.publishImage(image, 2);
    await server.publisher.fleet.createRollout({ releaseId, classId: benchClass });
    const offers = await Promise.all(agents.map((agent, i) => agent.checkIn(i === 0)));
    const idleRssBytes = server.child.rssBytes();
    let delivered = 0;
    const started = new Set<number>();
    const streams = agents.map(async (agent, i) => {
      const offer = offers[i]?.offer;
      const payload = offer?.payloads[0];
      if (offer === undefined || payload === undefined) throw new Error(`device ${i}: no offer`);
      await agent
        .download(
          offer.deploymentId,
          payload.payloadId,
          options.bytesPerSecond,
          stop.signal,
          (n) => {
            started.add(i);
            delivered += n;
          },
        )
        .catch((error: unknown) => {
          if (!stop.signal.aborted) throw error;
        });
    });
    const failed = Promise.all(streams).then(
      () => undefined,
      (error: unknown) => error,
    );
    let peakRssBytes = 0;
    const deadline = performance.now() + options.seconds * 1000;
    while (performance.now() < deadline) {
      peakRssBytes = Math.max(peakRssBytes, server.child.rssBytes());
      await sleep(50);
    }
    stop.abort();
    const error = await failed;
    if (error !== undefined) throw error;
    return { idleRssBytes, peakRssBytes, streaming: started.size, bytesDelivered: delivered };
  } finally {
    stop.abort();
    for (const agent of agents) agent.close();
    await server.stop();
  }
}
