// An in-process device for agent tests: slot files with the factory image
// (1.0.0) in A, a journal in its factory state, an anti-rollback floor file at
// the factory sequence, and one signed release (2.0.0) offered by a fake source. rigRuntime builds the agent's runtime over them
// and whatever bootloader, health check and reboot the test gives.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { type LoopResult, runAgent } from '../../src/device/agent.js';
import { type AgentState, factoryState, parseAgentState } from '../../src/device/agent-state.js';
import type { Bootloader } from '../../src/device/bootloaders/bootloader.js';
import {
  createSimulatedBootloader,
  initSimulatedBootloader,
} from '../../src/device/bootloaders/simulated.js';
import { createJournal, type Journal } from '../../src/device/journal.js';
import {
  createRollbackFloorStore,
  type RollbackFloorStore,
} from '../../src/device/rollback-floor.js';
import { type AgentRuntime, type AgentSettings, createRuntime } from '../../src/device/runtime.js';
import { createRawSlot } from '../../src/device/slots/raw.js';
import type { Slot } from '../../src/device/slots/slot.js';
import type { UpdateSource } from '../../src/device/source/source.js';
import { PendulumError } from '../../src/errors.js';
import type { Signed } from '../../src/gen/pendulum/v1/manifest_pb.js';
import { generateKeyPair, type KeyPair, type ManifestSpec } from '../../src/trust/index.js';
import { createFakeSource, type FakeSource } from '../fakes/fake-source.js';
import { makeImage, sha256Hex } from './images.js';
import { rootDocument, signImage, testDeviceId } from './vendor.js';

const slotBytes = 6 * 1024 * 1024;
// The release slot A holds from the factory.
export const factoryImage = makeImage('1.0.0');
export const rigLog = pino({ level: 'silent' });

export interface AgentRig {
  readonly dir: string;
  readonly slots: { readonly A: string; readonly B: string };
  // The release offered, healthy or not as asked.
  readonly image: Buffer;
  readonly journal: Journal<AgentState>;
  // The device's anti-rollback floor, 1 (the factory release) to begin with.
  readonly floor: RollbackFloorStore;
  readonly source: FakeSource;
  // The offered release's signed manifest.
  readonly manifest: Signed;
  // The key the release is signed with (the root's only release key).
  readonly releaseKey: KeyPair;
}

// makeAgentRig sets up a device in `dir` whose offered release passes its
// health check when `healthy`; `spec` changes the offered manifest.
export async function makeAgentRig(
  dir: string,
  healthy: boolean,
  spec: Partial<ManifestSpec> = {},
): Promise<AgentRig> {
  await mkdir(dir, { recursive: true });
  const slots = { A: join(dir, 'a.img'), B: join(dir, 'b.img') };
  const slotA = Buffer.alloc(slotBytes);
  factoryImage.copy(slotA);
  await writeFile(slots.A, slotA);
  await writeFile(slots.B, Buffer.alloc(slotBytes));
  const rootKey = generateKeyPair();
  const releaseKey = generateKeyPair();
  const root = rootDocument({
    version: 1,
    rootKeys: [rootKey],
    releaseKeys: [releaseKey],
    signers: [rootKey],
  });
  const image = makeImage('2.0.0', { healthy });
  const manifest = signImage(image, [releaseKey], { classId: 'gw', version: '2.0.0', ...spec });
  const journal = createJournal(join(dir, 'journal.json'), (value) => parseAgentState(value));
  await journal.save(factoryState({ booted: 'A', version: '1.0.0', sequence: 1, trustRoot: root }));
  const floor = createRollbackFloorStore(join(dir, 'rollback-floor'));
  await floor.write(1);
  const source = createFakeSource('deployment-1', manifest, image);
  return { dir, slots, image, journal, floor, source, manifest, releaseKey };
}

export interface RigParts {
  readonly bootloader: Bootloader;
  readonly checkHealth: AgentRuntime['checkHealth'];
  readonly reboot: AgentRuntime['reboot'];
  readonly signal: AbortSignal;
  readonly slotB?: Slot;
  readonly source?: UpdateSource;
  // The device's own clock (default: the real one).
  readonly now?: () => number;
  readonly rollbackFloor?: RollbackFloorStore;
  // Settings that differ from the rig's (scaled-down limits, say).
  readonly settings?: Partial<AgentSettings>;
}

// rigRuntime is the agent's runtime over the rig, resuming from its journal.
export async function rigRuntime(rig: AgentRig, parts: RigParts): Promise<AgentRuntime> {
  return createRuntime({
    settings: {
      deviceId: testDeviceId,
      classId: 'gw',
      syncEveryBytes: 1024 * 1024,
      progressEveryMs: 0,
      downloadIdleMs: 300,
      downloadMinBytesPerSec: 1024,
      downloadMinRateWindowMs: 300_000,
      downloadDeadlineMs: 6 * 3_600_000,
      inventory: {},
      periodicHealthEveryMs: 0,
      ...parts.settings,
    },
    slots: {
      A: createRawSlot({ name: 'A', device: rig.slots.A }),
      B: parts.slotB ?? createRawSlot({ name: 'B', device: rig.slots.B }),
    },
    bootloader: parts.bootloader,
    source: parts.source ?? rig.source,
    rollbackFloor: parts.rollbackFloor ?? rig.floor,
    checkHealth: parts.checkHealth,
    reboot: parts.reboot,
    now: parts.now ?? (() => Date.now()),
    log: rigLog,
    signal: parts.signal,
    journal: rig.journal,
    initial: (await rig.journal.load()) as AgentState,
  });
}

// runAgentOnce runs the agent until it is idle or asks for a reboot; a
// PendulumError it stops with is 'error'.
export async function runAgentOnce(rt: AgentRuntime): Promise<LoopResult | 'error'> {
  try {
    return await runAgent(rt, {
      once: true,
      pollIntervalMs: 1000,
      jitter: 0,
      backoff: { minMs: 1, maxMs: 1 },
      rebootGraceMs: 0,
      sleep: async () => undefined,
    });
  } catch (error) {
    if (!(error instanceof PendulumError)) throw error;
    return 'error';
  }
}

// slotHolds tells whether slot `slot` of the rig starts with `image`.
export async function slotHolds(rig: AgentRig, slot: 'A' | 'B', image: Buffer): Promise<boolean> {
  const bytes = await readFile(rig.slots[slot]);
  return sha256Hex(bytes.subarray(0, image.length)) === sha256Hex(image);
}

// BootedRig is a rig whose simulated bootloader has booted slot A.
export type BootedRig = AgentRig & { readonly boot: { envPath: string; cmdlinePath: string } };

// makeBootedRig is makeAgentRig with a simulated bootloader booted from slot A.
export async function makeBootedRig(
  dir: string,
  healthy = true,
  spec: Partial<ManifestSpec> = {},
): Promise<BootedRig> {
  const rig = await makeAgentRig(dir, healthy, spec);
  const boot = { envPath: join(rig.dir, 'grubenv'), cmdlinePath: join(rig.dir, 'cmdline') };
  await initSimulatedBootloader({ ...boot, booted: 'A', maxTries: 3 });
  return { ...rig, boot };
}

// runBootedRig runs the agent once over the rig (healthy checks, a reboot
// that does nothing) and returns what it ended with, the bootloader's state
// before and after, and the journal.
export async function runBootedRig(
  rig: BootedRig,
  parts: Partial<Pick<RigParts, 'source' | 'slotB' | 'now'>> = {},
) {
  const bootloader = createSimulatedBootloader(rig.boot);
  const before = await bootloader.state();
  const rt = await rigRuntime(rig, {
    bootloader,
    checkHealth: async () => undefined,
    reboot: async () => undefined,
    signal: new AbortController().signal,
    ...parts,
  });
  const result = await runAgentOnce(rt);
  return { result, before, after: await bootloader.state(), journal: await rig.journal.load() };
}
