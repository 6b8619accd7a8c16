// A real SQLite file in a fresh temp directory for each test.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../../src/server/store/database.js';
import { createStore, type Store } from '../../../src/server/store/index.js';

export interface TempStore {
  readonly store: Store;
  readonly dir: string;
  readonly path: string;
  cleanup(): Promise<void>;
}

// openTempStore opens a migrated store on a new file under os.tmpdir().
export async function openTempStore(): Promise<TempStore> {
  const dir = await mkdtemp(join(tmpdir(), 'pendulum-store-'));
  const path = join(dir, 'metadata.db');
  const store = createStore(await openDatabase({ path }));
  return {
    store,
    dir,
    path,
    async cleanup() {
      await store.close().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

// at is a fixed clock reading, `seconds` after a reference instant.
export function at(seconds: number): Date {
  return new Date(Date.UTC(2026, 0, 1) + seconds * 1000);
}

// hex64 is a deterministic fake SHA-256 id.
export function hex64(n: number): string {
  return n.toString(16).padStart(64, '0');
}

// publish stores a payload and a one-component release using it.
export async function publish(
  store: Store,
  options: { id: string; classId?: string; sequence: number; size?: number; now?: Date },
) {
  const size = options.size ?? 100;
  const payloadId = hex64(size);
  await store.payloads.insert({ id: payloadId, size, now: options.now ?? at(0) });
  return store.releases.insert({
    id: options.id,
    vendorId: 'acme',
    classId: options.classId ?? 'gateway',
    sequence: options.sequence,
    version: `1.${options.sequence}.0`,
    expiresAt: at(86_400).toISOString(),
    signed: new Uint8Array([options.sequence, 1, 2, 3]),
    size,
    payloads: [{ component: 'rootfs', payloadId, size }],
    now: options.now ?? at(options.sequence),
  });
}
