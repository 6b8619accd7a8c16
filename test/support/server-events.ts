// What the server recorded about one device's deployments.
import type { Fleet } from './fleet.js';

// deploymentHistory returns each deployment of a device with its event states, oldest event first.
export async function deploymentHistory(fleet: Fleet, deviceId: string) {
  const { store } = fleet.server.context;
  const deployments = (await store.deployments.listForDevices([deviceId])).get(deviceId) ?? [];
  return Promise.all(
    deployments.map(async (d) => ({
      ...d,
      events: (await store.deployments.events(d.id)).map((e) => e.state),
    })),
  );
}
