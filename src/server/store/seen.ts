// When devices were last seen, for check-ins that report nothing new: kept
// in memory and written together every `everyMs`, instead of one commit (and
// one journal sync) per "still here". A check-in that reports a change is
// written at once, as before. Nobody waits for these writes to be synced, so a
// power cut may take back the last second or two of such times; never a
// reported state.
import { type Kysely, sql } from 'kysely';
import { withoutWaiting } from './database.js';
import type { Database } from './schema.js';

export interface SeenBuffer {
  // note records that device `id` was seen at `at` (ISO time).
  note(id: string, at: string): void;
  // flush writes every time noted so far; one failing keeps them for the next.
  flush(): Promise<void>;
  // stop ends the timer and writes what is left.
  stop(): Promise<void>;
}

// Rows one statement updates at most: a statement holds the event loop
// (better-sqlite3 is synchronous) for about 35 µs a row in a fleet of a
// million here, and the flush yields to requests between statements.
const rowsPerStatement = 100;

// createSeenBuffer writes noted times to `db` every `everyMs`.
export function createSeenBuffer(db: Kysely<Database>, everyMs: number): SeenBuffer {
  let pending = new Map<string, string>();
  let inFlight: Promise<void> = Promise.resolve();

  const write = async (batch: Map<string, string>) => {
    // By id: two replicas flushing at once lock rows in the same order.
    const entries = [...batch].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    for (let i = 0; i < entries.length; i += rowsPerStatement) {
      const part = entries.slice(i, i + rowsPerStatement);
      const rows = sql.join(part.map(([id, at]) => sql`(${id}, ${at})`));
      // Never back in time: a check-in written since may carry a later one.
      // No reply waits for these commits to be synced: the next sync or
      // checkpoint takes them to stable storage.
      await withoutWaiting(db, (connection) =>
        sql`with seen(id, at) as (values ${rows})
          update devices set last_seen_at = seen.at from seen
          where devices.id = seen.id
            and (devices.last_seen_at is null or devices.last_seen_at < seen.at)`.execute(
          connection,
        ),
      );
      for (const [id] of part) batch.delete(id);
      await new Promise((resolve) => setImmediate(resolve));
    }
  };

  const flush = (): Promise<void> => {
    const run = inFlight.then(async () => {
      if (pending.size === 0) return;
      const batch = pending;
      pending = new Map();
      try {
        await write(batch);
      } catch (error) {
        // What was not written waits for the next flush, unless seen again since.
        for (const [id, at] of batch) if (!pending.has(id)) pending.set(id, at);
        throw error;
      }
    });
    inFlight = run.catch(() => undefined);
    return run;
  };

  const timer = setInterval(() => {
    // A failure (a full disk, a lost connection) is retried on the next tick.
    flush().catch(() => undefined);
  }, everyMs);
  timer.unref();

  return {
    note(id, at) {
      const known = pending.get(id);
      if (known === undefined || known < at) pending.set(id, at);
    },
    flush,
    async stop() {
      clearInterval(timer);
      await flush();
    },
  };
}
