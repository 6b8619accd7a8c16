// Seeds a server's SQLite store with a large fleet before the server starts:
// the schema made by the server's own migrations, then devices (and device
// tokens for the simulated agents, as Authenticate would issue them) written
// with better-sqlite3 directly, in one transaction, many rows per INSERT.
import { createHash, randomBytes } from 'node:crypto';
import SQLite from 'better-sqlite3';
import { openDatabase } from '../../src/server/store/database.js';
import type { KeyPair } from '../../src/trust/index.js';
import { benchClass } from './vendor.js';

const rowsPerInsert = 200;
const deviceColumns = [
  'id',
  'public_key',
  'class_id',
  'admission',
  'booted_slot',
  'installed_version',
  'committed_sequence',
  'trust_root_version',
  'agent_state',
  'inventory',
  'last_auth_ms',
  'last_seen_at',
  'created_at',
  'updated_at',
];

export interface SeededAgent {
  readonly key: KeyPair;
  readonly token: string;
}

// seedFleet migrates `path` and inserts `devices` devices of which `agents`
// hold real keys and a device token valid for `tokenTtlMs`.
export async function seedFleet(
  path: string,
  devices: number,
  agents: readonly KeyPair[],
  tokenTtlMs: number,
): Promise<{ agents: SeededAgent[]; seconds: number }> {
  await (await openDatabase({ path })).destroy();
  const start = performance.now();
  const issued: SeededAgent[] = [];
  const db = new SQLite(path);
  try {
    // A benchmark's scratch store: no need to survive a power cut.
    db.pragma('synchronous = OFF');
    db.pragma('cache_size = -262144');
    const insertMany = db.prepare(
      `insert into devices (${deviceColumns.join(', ')}) values ${Array(rowsPerInsert)
        .fill(`(${deviceColumns.map(() => '?').join(', ')})`)
        .join(', ')}`,
    );
    const insertOne = db.prepare(
      `insert into devices (${deviceColumns.join(', ')}) values (${deviceColumns.map(() => '?').join(', ')})`,
    );
    const insertToken = db.prepare(
      'insert into device_tokens (token_hash, device_id, expires_at) values (?, ?, ?)',
    );
    const keys = Array.from({ length: Math.max(devices, agents.length) }, (_, i) => {
      const publicKey = agents[i]?.publicKey ?? randomBytes(32);
      return { id: createHash('sha256').update(publicKey).digest('hex'), publicKey };
    });
    // In key order: the primary-key index then grows at its end.
    keys.sort((a, b) => (a.id < b.id ? -1 : 1));
    const base = Date.now() - 86_400_000;
    const row = (i: number) => {
      const key = keys[i];
      if (key === undefined) throw new Error(`no key ${i}`);
      const at = new Date(base + i).toISOString();
      return [
        key.id,
        key.publicKey,
        benchClass,
        'accepted',
        'A',
        '1.1.0',
        1,
        1,
        'idle',
        '{"board":"bench-board","kernel":"6.1.0","agent":"0.1.0"}',
        0,
        at,
        at,
        at,
      ];
    };
    const expiresAt = new Date(Date.now() + tokenTtlMs).toISOString();
    db.transaction(() => {
      let i = 0;
      for (; i + rowsPerInsert <= keys.length; i += rowsPerInsert) {
        const values: unknown[] = [];
        for (let j = i; j < i + rowsPerInsert; j++) values.push(...row(j));
        insertMany.run(values);
      }
      for (; i < keys.length; i++) insertOne.run(row(i));
      for (const key of agents) {
        const token = `pdd_${randomBytes(32).toString('base64url')}`;
        const hash = createHash('sha256').update(token).digest('hex');
        insertToken.run(hash, key.keyId, expiresAt);
        issued.push({ key, token });
      }
    })();
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
  return { agents: issued, seconds: (performance.now() - start) / 1000 };
}
