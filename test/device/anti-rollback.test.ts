// The anti-rollback floor on a device: it moves only when a release commits,
// never at download, install, arm or trial time and never on a power cut
// before the commit; once an irreversible release committed, no lower sequence
// installs, even after the agent's journal is reset; and a missing or corrupt
// floor store refuses every offer without touching a slot or the bootloader.
// The agent runs in-process on real slot files, the simulated bootloader, the
// real journal and floor store, with a fake update source.
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentState, factoryState } from '../../src/device/agent-state.js';
import {
  createSimulatedBootloader,
  initSimulatedBootloader,
  simulateBoot,
} from '../../src/device/bootloaders/simulated.js';
import { runHealthChecks } from '../../src/device/health.js';
import type { Journal } from '../../src/device/journal.js';
import { commandReboot } from '../../src/device/reboot.js';
import type { RollbackFloorStore } from '../../src/device/rollback-floor.js';
import type { AgentRuntime } from '../../src/device/runtime.js';
import { createRawSlot } from '../../src/device/slots/raw.js';
import type { MachineStateName } from '../../src/device/state-machine.js';
import { PendulumError } from '../../src/errors.js';
import { SignedSchema } from '../../src/gen/pendulum/v1/manifest_pb.js';
import type { ManifestSpec } from '../../src/trust/index.js';
import { createFakeSource, type FakeSource } from '../fakes/fake-source.js';
import { type FaultSwitch, withFault, withStreamFault } from '../fakes/faults.js';
import {
  factoryImage,
  makeAgentRig,
  type RigParts,
  rigLog,
  rigRuntime,
  runAgentOnce,
  slotHolds,
} from '../support/agent-rig.js';
import { imageSelfTest, makeImage, sha256Hex } from '../support/images.js';
import { makeTempDir } from '../support/temp-dir.js';
import { signImage } from '../support/vendor.js';

let tmp: { path: string; remove: () => Promise<void> };
beforeAll(async () => {
  tmp = await makeTempDir('anti-rollback');
});
afterAll(async () => {
  await tmp.remove();
});

// A device with floor 1 (its factory release), offered `spec`'s release of 2.0.0.
async function makeRig(name: string, spec: Partial<ManifestSpec>, healthy = true) {
  const rig = await makeAgentRig(join(tmp.path, name), healthy, spec);
  const boot = { envPath: join(rig.dir, 'grubenv'), cmdlinePath: join(rig.dir, 'cmdline') };
  await initSimulatedBootloader({ ...boot, booted: 'A', maxTries: 3 });
  return { ...rig, boot };
}
type Rig = Awaited<ReturnType<typeof makeRig>>;

type Parts = Omit<RigParts, 'signal'> & { journal?: Journal<AgentState> };

// runOnce runs the agent until idle, a reboot, an error, or `wrap`'s power cut.
async function runOnce(
  rig: Rig,
  wrap: (parts: Parts, cut: AbortController, rt: () => AgentRuntime) => Parts = (p) => p,
) {
  const cut = new AbortController();
  let rt: AgentRuntime | undefined;
  const base: Parts = {
    bootloader: createSimulatedBootloader(rig.boot),
    slotB: createRawSlot({ name: 'B', device: rig.slots.B }),
    source: rig.source,
    rollbackFloor: rig.floor,
    checkHealth: (env, deadlineAt, signal) =>
      runHealthChecks([{ ...imageSelfTest, timeoutMs: 2000 }], { deadlineAt, env, signal }),
    reboot: commandReboot(['true'], 2000, rigLog),
  };
  const parts = wrap(base, cut, () => rt as AgentRuntime);
  rt = await rigRuntime(
    { ...rig, journal: parts.journal ?? rig.journal },
    { ...parts, signal: cut.signal },
  );
  return runAgentOnce(rt);
}

// settle powers the device on again after every reboot or power cut until the agent is idle.
async function settle(rig: Rig, wrap?: Parameters<typeof runOnce>[1]): Promise<void> {
  for (let runs = 0; ; runs++) {
    expect(runs, 'the agent must settle').toBeLessThan(15);
    const result = await runOnce(rig, wrap);
    if (result === 'idle') return;
    expect(result).not.toBe('error');
    await simulateBoot(rig.boot);
  }
}

const journalOf = async (rig: Rig) => (await rig.journal.load()) as AgentState;

// resetJournal plays a reset of the agent's state: the journal of a factory-fresh
// device (committed sequence 1) running slot `booted`; the floor file is left alone.
async function resetJournal(rig: Rig, booted: 'A' | 'B'): Promise<void> {
  const { trustRoot } = await journalOf(rig);
  await rig.journal.save(
    factoryState({
      booted,
      version: '1.0.0',
      sequence: 1,
      trustRoot: fromBinary(SignedSchema, Buffer.from(trustRoot, 'base64')),
    }),
  );
}

// offer is a new deployment of a validly signed release at `sequence`.
function offer(rig: Rig, id: string, sequence: number): { source: FakeSource; image: Buffer } {
  const image = makeImage(`3.0.${sequence}`);
  const manifest = signImage(image, [rig.releaseKey], {
    classId: 'gw',
    version: `3.0.${sequence}`,
    sequence,
  });
  return { source: createFakeSource(id, manifest, image), image };
}

// What must not change when an offer is refused: the bootloader and both slots.
async function snapshot(rig: Rig) {
  const journal = await journalOf(rig);
  return {
    env: await readFile(rig.boot.envPath),
    slotA: sha256Hex(await readFile(rig.slots.A)),
    slotB: sha256Hex(await readFile(rig.slots.B)),
    committed: journal.committed,
    slots: journal.slots,
    machine: journal.machine,
  };
}

describe('the floor moves on commit, and only then', () => {
  const cases: {
    name: string;
    spec: Partial<ManifestSpec>;
    healthy?: boolean;
    floor: number;
  }[] = [
    { name: 'an irreversible release', spec: { sequence: 5, irreversible: true }, floor: 5 },
    { name: 'a release with rollback_floor 4', spec: { sequence: 6, rollbackFloor: 4 }, floor: 4 },
    {
      name: 'an irreversible release with a lower rollback_floor',
      spec: { sequence: 6, rollbackFloor: 4, irreversible: true },
      floor: 6,
    },
    { name: 'a release that raises nothing', spec: { sequence: 5 }, floor: 1 },
    {
      name: 'an irreversible release that fails its trial',
      spec: { sequence: 5, irreversible: true },
      healthy: false,
      floor: 1,
    },
  ];

  it.each(cases)('after $name the floor is $floor', async (c) => {
    const rig = await makeRig(c.name.replaceAll(' ', '-'), c.spec, c.healthy);
    // The floor as it stood at every state the journal recorded.
    const seen: { state: MachineStateName; committed: number; floor: number }[] = [];
    const journal: Journal<AgentState> = {
      load: () => rig.journal.load(),
      async save(state) {
        await rig.journal.save(state);
        seen.push({
          state: state.machine.name,
          committed: state.committed.sequence,
          floor: await rig.floor.read(),
        });
      },
    };
    await settle(rig, (parts) => ({ ...parts, journal }));

    const { committed } = await journalOf(rig);
    expect(committed.sequence).toBe(c.healthy === false ? 1 : c.spec.sequence);
    expect(await rig.floor.read()).toBe(c.floor);
    const visited = new Set(seen.map((s) => s.state));
    for (const state of ['downloading', 'installing', 'arming', 'rebooting', 'verifying'] as const)
      expect(visited, state).toContain(state);
    if (c.healthy !== false) expect(visited).toContain('committing');
    // Until the journal says committed, the floor is the factory's.
    expect(seen.filter((s) => s.committed === 1).every((s) => s.floor === 1)).toBe(true);
  });
});

describe('a power cut before the commit leaves the floor unchanged', () => {
  const cuts: { state: MachineStateName; at: string }[] = [
    { state: 'downloading', at: 'download' },
    { state: 'installing', at: 'digest' },
    { state: 'arming', at: 'tryOnce' },
    { state: 'rebooting', at: 'reboot' },
    { state: 'verifying', at: 'checkHealth' },
    { state: 'committing', at: 'markGood' },
  ];

  it.each(cuts)(
    'a power cut in $state ($at) leaves floor 1, and the commit raises it',
    async ({ state, at }) => {
      const rig = await makeRig(`cut-${state}`, { sequence: 5, irreversible: true });
      let cutDone = false;
      const wrap: Parameters<typeof runOnce>[1] = (parts, cut, rt) => {
        if (cutDone) return parts;
        const signal = cut.signal;
        const fault: FaultSwitch = {
          armed: () => rt().state.machine.name === state,
          plan: { kind: 'power-cut' },
          fired: false,
          powerCut: () => {
            cutDone = true;
            cut.abort();
          },
        };
        const w = { ...parts };
        if (at === 'download' && w.source)
          w.source = withStreamFault(w.source, 'download', fault, 4);
        if (at === 'digest' && w.slotB) w.slotB = withFault(w.slotB, 'digest', fault, signal);
        if (at === 'tryOnce' || at === 'markGood')
          w.bootloader = withFault(w.bootloader, at, fault, signal);
        if (at === 'reboot') w.reboot = withFault({ r: w.reboot }, 'r', fault, signal).r;
        if (at === 'checkHealth')
          w.checkHealth = withFault({ c: w.checkHealth }, 'c', fault, signal).c;
        return w;
      };
      for (let runs = 0; !cutDone; runs++) {
        expect(runs, 'the power cut must happen').toBeLessThan(10);
        const result = await runOnce(rig, wrap);
        if (!cutDone) {
          expect(result).toBe('reboot');
          await simulateBoot(rig.boot);
        }
      }
      const journal = await journalOf(rig);
      expect(journal.machine.name).toBe(state);
      expect(journal.committed.sequence).toBe(1);
      expect(await rig.floor.read()).toBe(1);

      await simulateBoot(rig.boot);
      await settle(rig);
      expect((await journalOf(rig)).committed).toEqual({
        slot: 'B',
        version: '2.0.0',
        sequence: 5,
      });
      expect(await rig.floor.read()).toBe(5);
    },
  );

  it('a power cut after the floor rose but before the journal recorded the commit ends committed', async () => {
    const rig = await makeRig('cut-after-raise', { sequence: 5, irreversible: true });
    let cutDone = false;
    const wrap: Parameters<typeof runOnce>[1] = (parts, cut) => {
      if (cutDone || parts.rollbackFloor === undefined) return parts;
      const store = parts.rollbackFloor;
      const cutting: RollbackFloorStore = {
        ...store,
        async raise(to) {
          await store.raise(to);
          cutDone = true;
          cut.abort();
          throw new PendulumError('CANCELLED', 'power cut');
        },
      };
      return { ...parts, rollbackFloor: cutting };
    };
    for (let runs = 0; !cutDone; runs++) {
      expect(runs, 'the power cut must happen').toBeLessThan(10);
      const result = await runOnce(rig, wrap);
      if (!cutDone) {
        expect(result).toBe('reboot');
        await simulateBoot(rig.boot);
      }
    }
    // Between the two writes: the floor is up, the journal still says committing.
    expect((await journalOf(rig)).machine.name).toBe('committing');
    expect(await rig.floor.read()).toBe(5);

    await simulateBoot(rig.boot);
    expect(await createSimulatedBootloader(rig.boot).booted()).toBe('B');
    await settle(rig);
    const journal = await journalOf(rig);
    expect(journal.committed).toEqual({ slot: 'B', version: '2.0.0', sequence: 5 });
    expect(journal.machine.name).toBe('idle');
    expect(await rig.floor.read()).toBe(5);
    expect(rig.source.reports.filter((r) => r.state === 'committed')).toHaveLength(1);
  });
});

describe('after an irreversible release', () => {
  it('rejects a validly signed release below the floor after an irreversible release committed, even with the journal reset', async () => {
    const rig = await makeRig('irreversible-reset', { sequence: 5, irreversible: true });
    await settle(rig);
    expect(await rig.floor.read()).toBe(5);
    await resetJournal(rig, 'B');
    const before = await snapshot(rig);

    const older = offer(rig, 'deployment-older', 3);
    expect(await runOnce(rig, (parts) => ({ ...parts, source: older.source }))).toBe('idle');

    expect(older.source.downloadOffsets).toEqual([]);
    expect(older.source.reports).toEqual([
      expect.objectContaining({
        deploymentId: 'deployment-older',
        state: 'failed',
        errorCode: 'ROLLBACK_REJECTED',
        message: "manifest 3.0.3: sequence 3 is below the device's anti-rollback floor 5",
      }),
    ]);
    expect(await snapshot(rig)).toEqual(before);
    expect(await slotHolds(rig, 'A', factoryImage)).toBe(true);
    expect(await rig.floor.read()).toBe(5);
  });

  it('a newer release still installs above the floor after the reset', async () => {
    const rig = await makeRig('irreversible-newer', { sequence: 5, irreversible: true });
    await settle(rig);
    await resetJournal(rig, 'B');
    const newer = offer(rig, 'deployment-newer', 6);
    await settle(rig, (parts) => ({ ...parts, source: newer.source }));
    expect((await journalOf(rig)).committed).toEqual({ slot: 'A', version: '3.0.6', sequence: 6 });
    expect(await slotHolds(rig, 'A', newer.image)).toBe(true);
  });

  it('without an irreversible flag or floor, a reset journal lets the older release in (the floor is what stops it)', async () => {
    const rig = await makeRig('reversible-reset', { sequence: 5 });
    await settle(rig);
    await resetJournal(rig, 'B');
    const older = offer(rig, 'deployment-older', 3);
    await settle(rig, (parts) => ({ ...parts, source: older.source }));
    expect(older.source.reports.at(-1)?.state).toBe('committed');
    expect(await rig.floor.read()).toBe(1);
  });
});

describe('a missing or corrupt floor store fails closed', () => {
  const damages: { name: string; damage: (path: string) => Promise<void>; problem: string }[] = [
    { name: 'missing', damage: (path) => rm(path), problem: 'is missing' },
    {
      name: 'corrupt',
      damage: async (path) =>
        writeFile(path, (await readFile(path, 'utf8')).replace(' 1 1 ', ' 1 0 ')),
      problem: 'fails its checksum',
    },
  ];

  it.each(damages)(
    'fails closed when the floor store is $name',
    async ({ name, damage, problem }) => {
      const rig = await makeRig(`damaged-${name}`, { sequence: 5 });
      await damage(rig.floor.path);
      const before = await snapshot(rig);

      // The agent still checks in and reports; it refuses the offer.
      expect(await runOnce(rig)).toBe('idle');

      expect(rig.source.downloadOffsets).toEqual([]);
      expect(rig.source.reports).toHaveLength(1);
      const [report] = rig.source.reports;
      expect(report).toMatchObject({ deploymentId: 'deployment-1', state: 'failed' });
      expect(report?.errorCode).toBe('STATE_CORRUPT');
      expect(report?.message).toContain(`anti-rollback floor store ${rig.floor.path} ${problem}`);
      expect(report?.message).toContain('pendulum agent floor set');
      const after = await snapshot(rig);
      expect(after).toEqual(before);
      expect(await createSimulatedBootloader(rig.boot).booted()).toBe('A');
      expect(after.slots.B.status).toBe('unknown');

      // Restored by an operator, the next offer installs.
      await rig.floor.write(1);
      const again = offer(rig, 'deployment-again', 5);
      await settle(rig, (parts) => ({ ...parts, source: again.source }));
      expect(again.source.reports.at(-1)?.state).toBe('committed');
    },
  );

  it('waits to commit an irreversible release until a floor store lost during its trial is restored', async () => {
    const rig = await makeRig('lost-in-trial', { sequence: 5, irreversible: true });
    const losing: Parameters<typeof runOnce>[1] = (parts) => ({
      ...parts,
      checkHealth: async (env, deadlineAt, signal) => {
        await parts.checkHealth(env, deadlineAt, signal);
        await rm(rig.floor.path, { force: true });
      },
    });
    let result = await runOnce(rig, losing);
    for (let runs = 0; result === 'reboot'; runs++) {
      expect(runs).toBeLessThan(10);
      await simulateBoot(rig.boot);
      result = await runOnce(rig, losing);
    }
    expect(result).toBe('error');
    expect((await journalOf(rig)).machine.name).toBe('committing');
    expect((await journalOf(rig)).committed.sequence).toBe(1);

    await rig.floor.write(1);
    await settle(rig);
    expect((await journalOf(rig)).committed.sequence).toBe(5);
    expect(await rig.floor.read()).toBe(5);
  });
});
