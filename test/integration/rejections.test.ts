// What a device refuses, each with its own error code, with the running slot
// and the bootloader untouched and nothing armed. Trust failures are caught
// before a single payload byte is fetched; payload tampering while streaming.
import { appendFile, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErrorCode } from '../../src/errors.js';
import { ComponentKind, generateKeyPair, sha256, toHex } from '../../src/trust/index.js';
import { makeDevice, slotBytes, type TestDevice } from '../support/device.js';
import { type Fleet, startFleet, testClass } from '../support/fleet.js';
import { makeImage, sha256Hex } from '../support/images.js';
import { deploymentHistory } from '../support/server-events.js';
import { makeTempDir } from '../support/temp-dir.js';

let dir: { path: string; remove: () => Promise<void> };
let fleet: Fleet;

beforeAll(async () => {
  dir = await makeTempDir('reject');
  // Two release signatures required, so "the same key twice" can be tried.
  fleet = await startFleet(dir.path, { releaseThreshold: 2 });
});
afterAll(async () => {
  await fleet.close();
  await dir.remove();
});

interface DeviceSnapshot {
  env: Buffer;
  slotA: string;
  slotB: string;
}

async function snapshot(device: TestDevice): Promise<DeviceSnapshot> {
  return {
    env: await device.envBytes(),
    slotA: await device.slotDigest('A', slotBytes),
    slotB: await device.slotDigest('B', slotBytes),
  };
}

async function freshDevice(name: string): Promise<{ device: TestDevice; deviceId: string }> {
  const device = await makeDevice(join(dir.path, name), fleet);
  await device.settle();
  return { device, deviceId: await device.deviceId() };
}

const image = makeImage('9.9.9');
const inAnHour = () => new Date(Date.now() + 3_600_000);

const component = (name: string, kind = ComponentKind.ROOTFS, bytes: Uint8Array = image) => ({
  name,
  kind,
  size: bytes.length,
  sha256: toHex(sha256(bytes)),
});

describe('rejected before a single payload byte is downloaded', () => {
  const cases: {
    name: string;
    code: ErrorCode;
    sign: () => ReturnType<Fleet['sign']>;
    // What the server streams; default: the image the manifest is for.
    payload?: Uint8Array;
  }[] = [
    {
      name: 'a component named ../etc/shadow (path traversal)',
      code: 'MALFORMED',
      sign: () => fleet.sign(image, { components: [component('../etc/shadow')] }),
    },
    {
      name: 'a huge sequence signed by keys the root does not list (fast-forward)',
      code: 'UNTRUSTED_KEY',
      sign: () =>
        fleet.sign(image, { sequence: Number.MAX_SAFE_INTEGER }, [
          generateKeyPair(),
          generateKeyPair(),
        ]),
    },
    {
      name: 'a payload digest from another release (mix-and-match)',
      code: 'MALFORMED',
      sign: () => fleet.sign(image, {}),
      payload: makeImage('another release'),
    },
    {
      name: 'a two-component release with one part missing (partial bundle)',
      code: 'INCOMPATIBLE',
      sign: () =>
        fleet.sign(image, {
          components: [
            component('rootfs'),
            component('app', ComponentKind.APP_DIRECTORY, makeImage('app part')),
          ],
        }),
    },
    {
      name: 'a component aimed at another kind of slot (wrong software)',
      code: 'INCOMPATIBLE',
      sign: () =>
        fleet.sign(image, { components: [component('rootfs', ComponentKind.BTRFS_SUBVOLUME)] }),
    },
    {
      name: 'a manifest above the size cap (endless data)',
      code: 'TOO_LARGE',
      sign: () => fleet.sign(image, { text: 'x'.repeat(300 * 1024) }),
    },
    {
      name: 'a manifest signed by an unknown key',
      code: 'UNTRUSTED_KEY',
      sign: () => fleet.sign(image, {}, [generateKeyPair(), generateKeyPair()]),
    },
    {
      name: 'two signatures by the same key where two keys are required',
      code: 'THRESHOLD_NOT_MET',
      sign: () => fleet.sign(image, {}, [fleet.releaseKey, fleet.releaseKey]),
    },
    {
      name: 'a sequence not above the committed one',
      code: 'ROLLBACK_REJECTED',
      sign: () => fleet.sign(image, { sequence: 1 }),
    },
    {
      name: 'an expired manifest',
      code: 'EXPIRED',
      sign: () => fleet.sign(image, { expiresAt: new Date(Date.now() - 1000) }),
    },
    {
      name: 'a manifest for another device class',
      code: 'INCOMPATIBLE',
      sign: () => fleet.sign(image, { classId: 'another-class', expiresAt: inAnHour() }),
    },
  ];

  it.each(cases)('rejects $name with $code', async ({ name, code, sign, payload }) => {
    const { device, deviceId } = await freshDevice(name.replaceAll(/[^a-z0-9]+/gi, '-'));
    const before = await snapshot(device);

    await fleet.inject(sign(), payload ?? image, deviceId);
    const run = await device.runAgent();

    expect(run.code).toBe(0);
    expect(run.result).toBe('idle');
    const [deployment] = await deploymentHistory(fleet, deviceId);
    expect(deployment?.state).toBe('failed');
    expect(deployment?.errorCode).toBe(code);
    expect(deployment?.events).not.toContain('downloading');
    expect(await snapshot(device)).toEqual(before);
    const journal = await device.journal();
    expect(journal.machine.name).toBe('idle');
    expect(journal.committed).toEqual({ slot: 'A', version: '1.0.0', sequence: 1 });
  });
});

describe('caught while streaming', () => {
  let sequence = 10;
  const tamperCases: { name: string; code: ErrorCode; tamper: (blob: string) => Promise<void> }[] =
    [
      {
        name: 'one flipped payload byte',
        code: 'DIGEST_MISMATCH',
        tamper: async (blob) => {
          const bytes = await readFile(blob);
          const at = bytes.length >> 1;
          bytes.writeUInt8(bytes.readUInt8(at) ^ 0x01, at);
          await writeFile(blob, bytes);
        },
      },
      {
        name: 'a payload stream longer than the manifest says',
        code: 'SIZE_MISMATCH',
        tamper: (blob) => appendFile(blob, Buffer.alloc(4096, 7)),
      },
    ];

  it.each(tamperCases)(
    'rejects $name with $code and leaves the inactive slot marked invalid',
    async ({ name, code, tamper }) => {
      const { device, deviceId } = await freshDevice(name.replaceAll(' ', '-'));
      const activeBefore = await device.slotDigest('A', slotBytes);
      const payload = makeImage(`tampered-${name}`);
      sequence++;
      await fleet.publish(payload, { version: `1.${sequence}.0`, sequence, classId: testClass });
      // The server's storage (or a mirror) is compromised after publishing.
      await tamper(await blobPath(toHex(sha256(payload))));

      const run = await device.runAgent();

      expect(run.code).toBe(0);
      const [deployment] = await deploymentHistory(fleet, deviceId);
      expect(deployment?.errorCode).toBe(code);
      expect(deployment?.state).toBe('failed');
      expect(deployment?.events).toContain('downloading');
      expect(deployment?.events).not.toContain('installed');
      expect(deployment?.events).not.toContain('armed');
      expect(await device.slotDigest('A', slotBytes)).toBe(activeBefore);
      const boot = await device.bootState();
      expect(boot.order[0]).toBe('A');
      expect(boot.slots.B.ok).toBe(false);
      const journal = await device.journal();
      expect(journal.slots.B.status).toBe('invalid');
      expect(journal.committed.slot).toBe('A');
      expect(await device.booted()).toBe('A');
      // And the next boot still comes up on the old slot.
      expect(await device.boot()).toBe('A');
      expect(sha256Hex(await readFile(device.slots.A)).length).toBe(64);
    },
  );
});

async function blobPath(id: string): Promise<string> {
  const root = join(dir.path, 'server', 'payloads');
  const search = async (at: string): Promise<string | undefined> => {
    for (const entry of await readdir(at, { withFileTypes: true })) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) {
        const found = await search(path);
        if (found !== undefined) return found;
      } else if (entry.name === id) return path;
    }
    return undefined;
  };
  const found = await search(root);
  if (found === undefined) throw new Error(`payload ${id} not found under ${root}`);
  return found;
}
