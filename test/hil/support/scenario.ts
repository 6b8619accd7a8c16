// Each HIL scenario gets its own server and device, and its wall time is
// printed, so the suite's budget can be read off every run.
import { join } from 'node:path';
import { afterAll, beforeAll, test } from 'vitest';
import { type Fleet, startFleet, testClass } from '../../support/fleet.js';
import { deploymentHistory } from '../../support/server-events.js';
import { makeTempDir } from '../../support/temp-dir.js';
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
      const fleet = await startFleet(join(dir.path, 'fleet'));
      const guest = await makeGuest({
        artifacts: artifacts(),
        fleet,
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
        const line = `HIL ${artifacts().arch} "${name}": ${seconds} s, ${guest.boots.length} boots${passed ? '' : ' (FAILED)'}`;
        timings.push(line);
        console.log(line);
        // A failed scenario keeps its console log for the person debugging it.
        if (passed) await dir.remove();
        else console.log(`HIL console log kept at ${guest.consoleLog}`);
      }
    },
    timeoutMs,
  );
}

afterAll(() => {
  if (timings.length > 0) console.log(`HIL scenario times:\n  ${timings.join('\n  ')}`);
});
