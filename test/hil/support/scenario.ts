// Each HIL scenario gets its own server and device, and its wall time is
// printed, so the suite's budget can be read off every run.
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, test } from 'vitest';
import { type Fleet, startFleet, testClass } from '../../support/fleet.js';
import { deploymentHistory } from '../../support/server-events.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { selfSigned } from '../../support/tls.js';
import type { Arch } from './arch.js';
import { type Artifacts, buildArtifacts } from './artifacts.js';
import { type Guest, makeGuest } from './guest.js';
import { requirePrerequisites } from './prerequisites.js';

export interface ScenarioContext {
  readonly fleet: Fleet;
  readonly guest: Guest;
  // The device's only deployment as the server recorded it.
  deployment(): Promise<Awaited<ReturnType<typeof deploymentHistory>>[number] | undefined>;
}

const timings: string[] = [];

// The host's TLS prefers ChaCha20-Poly1305 too (see qemu/guest/init): the
// guest's emulated CPU has no AES instructions, and the payload streams through TLS.
tls.DEFAULT_CIPHERS = [
  'TLS_CHACHA20_POLY1305_SHA256',
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
].join(':');

// useArtifacts checks the host and builds what `arch` boots before the
// file's scenarios run, and returns the getter they take.
export function useArtifacts(arch: Arch): () => Artifacts {
  let artifacts: Artifacts | undefined;
  beforeAll(async () => {
    requirePrerequisites(arch);
    artifacts = await buildArtifacts(arch);
  }, 600_000);
  return () => {
    if (artifacts === undefined) throw new Error(`the ${arch} artifacts were not built`);
    return artifacts;
  };
}

// scenario declares one HIL test; `artifacts` is resolved when it runs.
export function scenario(
  name: string,
  artifacts: () => Artifacts,
  body: (context: ScenarioContext) => Promise<void>,
  timeoutMs: number,
): void {
  test(
    name,
    async () => {
      const started = Date.now();
      const dir = await makeTempDir('hil');
      // TLS, as on a real network: the guest pins this certificate.
      const certificate = selfSigned(join(dir.path, 'server'));
      const fleet = await startFleet(join(dir.path, 'fleet'), { tls: certificate });
      const guest = await makeGuest({
        artifacts: artifacts(),
        fleet,
        serverCert: certificate.cert,
        dir: dir.path,
        classId: testClass,
      });
      let passed = false;
      try {
        await body({
          fleet,
          guest,
          async deployment() {
            // The scenario's server knows one device at most: this guest.
            const [device] = await fleet.server.context.store.devices.list();
            if (device === undefined) return undefined;
            const [latest] = await deploymentHistory(fleet, device.id);
            return latest;
          },
        });
        passed = true;
      } finally {
        await fleet.close();
        const seconds = ((Date.now() - started) / 1000).toFixed(1);
        const resets = guest.watchdogResets.length;
        const line = `HIL ${artifacts().arch} "${name}": ${seconds} s, ${guest.boots.length} boots${resets > 0 ? `, ${resets} watchdog reset(s)` : ''}${passed ? '' : ' (FAILED)'}`;
        timings.push(line);
        console.log(line);
        // A failed scenario keeps its console log for the person debugging it;
        // PENDULUM_HIL_KEEP=1 keeps every scenario's.
        if (passed && process.env.PENDULUM_HIL_KEEP !== '1') await dir.remove();
        else console.log(`HIL console log kept at ${guest.consoleLog}`);
      }
    },
    timeoutMs,
  );
}

afterAll(() => {
  if (timings.length > 0) console.log(`HIL scenario times:\n  ${timings.join('\n  ')}`);
});
