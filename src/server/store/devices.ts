// Devices: identity (id = SHA-256 of the public key), admission, the state
// each reported at its last check-in, and the anti-replay high-water mark.

import type { Kysely, Selectable } from 'kysely';
import { PendulumError } from '../../errors.js';
import { bytesEqual } from '../../trust/digest.js';
import type { SelectableDevice } from '../rollouts/phases.js';
import { createBatcher } from './batch.js';
import type { StoreChanges } from './changes.js';
import { prepared } from './prepared.js';
import { bytes, inTransaction, iso, num, requireSafeInteger } from './rows.js';
import type { Admission, Database, DevicesTable, Slot } from './schema.js';
import { createSeenBuffer } from './seen.js';
import { guarded } from './store-error.js';

// What a tag or group may be, and how many a device may carry of each.
const labelPattern = /^[A-Za-z0-9._:-]{1,64}$/;
const maxLabels = 64;

export interface StoredDevice {
  readonly id: string;
  readonly publicKey: Uint8Array;
  readonly classId: string;
  readonly admission: Admission;
  readonly bootedSlot: Slot | null;
  readonly installedVersion: string;
  readonly committedSequence: number;
  readonly trustRootVersion: number;
  readonly agentState: string;
  readonly inventory: Record<string, string>;
  readonly lastAuthMs: number;
  readonly lastSeenAt: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
  // Labels rollout selectors match: every tag asked, any group asked.
  readonly tags: readonly string[];
  readonly groups: readonly string[];
  readonly health: DeviceHealth;
}

// What a device last said about the release it committed.
export interface DeviceHealth {
  // When it committed (its clock); null for a release it did not install.
  readonly committedAt: string | null;
  readonly restarts: number;
  readonly checksRun: number;
  readonly checksFailed: number;
  readonly lastFailure: string;
}

export const noHealth: DeviceHealth = {
  committedAt: null,
  restarts: 0,
  checksRun: 0,
  checksFailed: 0,
  lastFailure: '',
};

export interface CheckIn {
  readonly bootedSlot: Slot | null;
  readonly installedVersion: string;
  readonly committedSequence: number;
  readonly trustRootVersion: number;
  readonly agentState: string;
  readonly inventory: Readonly<Record<string, string>>;
  readonly health: DeviceHealth;
}

export interface Authentication {
  readonly id: string;
  readonly publicKey: Uint8Array;
  readonly classId: string;
  readonly admissionIfNew: Admission;
  readonly timestampMs: number;
  readonly now: Date;
}

export type DeviceRepository = ReturnType<typeof createDeviceRepository>;

function toDevice(row: Selectable<DevicesTable>): StoredDevice {
  return {
    id: row.id,
    publicKey: bytes(row.public_key),
    classId: row.class_id,
    admission: row.admission,
    bootedSlot: row.booted_slot,
    installedVersion: row.installed_version,
    committedSequence: num(row.committed_sequence),
    trustRootVersion: num(row.trust_root_version),
    agentState: row.agent_state,
    inventory: JSON.parse(row.inventory) as Record<string, string>,
    lastAuthMs: num(row.last_auth_ms),
    lastSeenAt: row.last_seen_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    tags: JSON.parse(row.tags) as string[],
    groups: JSON.parse(row.groups) as string[],
    health: {
      committedAt: row.health_committed_at,
      restarts: num(row.health_restarts),
      checksRun: num(row.health_checks_run),
      checksFailed: num(row.health_checks_failed),
      lastFailure: row.health_last_failure,
    },
  };
}

// newDeviceRow is a device the server has just heard of: nothing reported yet.
function newDeviceRow(
  device: { id: string; publicKey: Uint8Array; classId: string },
  state: { admission: Admission; lastAuthMs: number; lastSeenAt: string | null; at: string },
) {
  return {
    id: device.id,
    public_key: device.publicKey,
    class_id: device.classId,
    admission: state.admission,
    booted_slot: null,
    installed_version: '',
    committed_sequence: 0,
    trust_root_version: 0,
    agent_state: '',
    inventory: '{}',
    last_auth_ms: state.lastAuthMs,
    last_seen_at: state.lastSeenAt,
    created_at: state.at,
    updated_at: state.at,
  };
}

interface CheckInWrite {
  readonly id: string;
  readonly status: CheckIn;
  readonly at: string;
}

// writeCheckIn updates one device's reported state; undefined if there is no such device.
async function writeCheckIn(
  db: Kysely<Database>,
  { id, status, at }: CheckInWrite,
): Promise<StoredDevice | undefined> {
  const row = await db
    .updateTable('devices')
    .set({
      booted_slot: status.bootedSlot,
      installed_version: status.installedVersion,
      committed_sequence: status.committedSequence,
      trust_root_version: status.trustRootVersion,
      agent_state: status.agentState,
      inventory: JSON.stringify(status.inventory),
      health_committed_at: status.health.committedAt,
      health_restarts: status.health.restarts,
      health_checks_run: status.health.checksRun,
      health_checks_failed: status.health.checksFailed,
      health_last_failure: status.health.lastFailure,
      last_seen_at: at,
      updated_at: at,
    })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
  return row === undefined ? undefined : toDevice(row);
}

// How often the times of check-ins that reported nothing new are written.
export const seenFlushMs = 1000;

// sameReport tells whether a check-in says what the device said last time.
function sameReport(device: StoredDevice, status: CheckIn): boolean {
  const a = device.health;
  const b = status.health;
  return (
    device.bootedSlot === status.bootedSlot &&
    device.installedVersion === status.installedVersion &&
    device.committedSequence === status.committedSequence &&
    device.trustRootVersion === status.trustRootVersion &&
    device.agentState === status.agentState &&
    JSON.stringify(device.inventory) === JSON.stringify(status.inventory) &&
    a.committedAt === b.committedAt &&
    a.restarts === b.restarts &&
    a.checksRun === b.checksRun &&
    a.checksFailed === b.checksFailed &&
    a.lastFailure === b.lastFailure
  );
}

function notFound(id: string): PendulumError {
  return new PendulumError('NOT_FOUND', `device ${id} not found`, { context: { deviceId: id } });
}

// createDeviceRepository binds the device functions to a database.
export function createDeviceRepository(db: Kysely<Database>, changes: StoreChanges) {
  // Every check-in reads its device: compiled once.
  const selectDevice = prepared(db, 1, (q, id) =>
    q.selectFrom('devices').selectAll().where('id', '=', id),
  );
  const get = async (id: string): Promise<StoredDevice | undefined> => {
    const [row] = await selectDevice(id);
    return row === undefined ? undefined : toDevice(row);
  };

  // Outside a transaction, a check-in that reports nothing new only notes
  // the time (seen.ts); inside one, every check-in is written there and then.
  const seen = db.isTransaction ? undefined : createSeenBuffer(db, seenFlushMs);
  const checkIns = db.isTransaction
    ? undefined
    : createBatcher<CheckInWrite, StoredDevice | undefined>((items) =>
        inTransaction(db, async (trx) => {
          // By device id (a device's own check-ins keep their order): two
          // replicas' batches lock rows in the same order, so on PostgreSQL
          // they wait for each other instead of deadlocking.
          const order = items
            .map((item, i) => ({ id: item.id, i }))
            .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
          const written: (StoredDevice | undefined)[] = new Array(items.length);
          for (const { i } of order) {
            const item = items[i];
            if (item !== undefined) written[i] = await writeCheckIn(trx, item);
          }
          return written;
        }),
      );

  const mustGet = async (id: string): Promise<StoredDevice> => {
    const device = await get(id);
    if (device === undefined) throw notFound(id);
    return device;
  };

  return guarded('devices', {
    // get returns one device.
    get,

    // recordAuthentication registers a new device or accepts a fresh
    // timestamp from a known one. A timestamp not above the last accepted one
    // is a replay: nothing changes and `replayed` is true. The conditional
    // update makes this hold for concurrent requests too.
    async recordAuthentication(
      input: Authentication,
    ): Promise<{ device: StoredDevice; created: boolean; replayed: boolean }> {
      requireSafeInteger(input.timestampMs, 'timestampMs');
      return inTransaction(db, async (trx) => {
        const at = iso(input.now);
        const inserted = await trx
          .insertInto('devices')
          .values(
            newDeviceRow(input, {
              admission: input.admissionIfNew,
              lastAuthMs: input.timestampMs,
              lastSeenAt: at,
              at,
            }),
          )
          .onConflict((oc) => oc.column('id').doNothing())
          .executeTakeFirst();
        const created = Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 1;
        if (!created) {
          const key = await trx
            .selectFrom('devices')
            .select('public_key')
            .where('id', '=', input.id)
            .executeTakeFirstOrThrow();
          // The id is derived from the key; a mismatch is a caller bug, never a login.
          if (!bytesEqual(bytes(key.public_key), input.publicKey)) {
            throw new PendulumError(
              'INVALID_ARGUMENT',
              `device ${input.id} is registered with another public key`,
              { context: { deviceId: input.id } },
            );
          }
          const updated = await trx
            .updateTable('devices')
            .set({ last_auth_ms: input.timestampMs, last_seen_at: at })
            .where('id', '=', input.id)
            .where('last_auth_ms', '<', input.timestampMs)
            .executeTakeFirst();
          if (Number(updated.numUpdatedRows) === 0) {
            const device = await trx
              .selectFrom('devices')
              .selectAll()
              .where('id', '=', input.id)
              .executeTakeFirstOrThrow();
            return { device: toDevice(device), created, replayed: true };
          }
        }
        const device = await trx
          .selectFrom('devices')
          .selectAll()
          .where('id', '=', input.id)
          .executeTakeFirstOrThrow();
        return { device: toDevice(device), created, replayed: false };
      });
    },

    // recordCheckIn stores what the device reported about itself and returns
    // the device. Check-ins arriving together are written in one transaction;
    // one that reports nothing new only moves last_seen_at, within seenFlushMs.
    async recordCheckIn(id: string, status: CheckIn, now: Date): Promise<StoredDevice> {
      requireSafeInteger(status.committedSequence, 'committedSequence');
      requireSafeInteger(status.trustRootVersion, 'trustRootVersion');
      const { health } = status;
      for (const [field, value] of Object.entries({
        restarts: health.restarts,
        checksRun: health.checksRun,
        checksFailed: health.checksFailed,
      }))
        requireSafeInteger(value, `health.${field}`);
      const at = iso(now);
      if (seen !== undefined) {
        const current = await get(id);
        if (current === undefined) throw notFound(id);
        if (sameReport(current, status)) {
          seen.note(id, at);
          return { ...current, lastSeenAt: at };
        }
      }
      const input = { id, status, at };
      const device = await (checkIns?.add(input) ?? writeCheckIn(db, input));
      if (device === undefined) throw notFound(id);
      return device;
    },

    // flushSeen writes the last-seen times noted so far.
    async flushSeen(): Promise<void> {
      await seen?.flush();
    },

    // stopSeen writes what is noted and stops noting (the store is closing).
    async stopSeen(): Promise<void> {
      await seen?.stop();
    },

    // preauthorize registers a device key before the device first calls, as
    // accepted; a pending device with that key is accepted. A device that
    // was rejected or decommissioned, or is of another class, is refused.
    async preauthorize(input: {
      id: string;
      publicKey: Uint8Array;
      classId: string;
      now: Date;
    }): Promise<StoredDevice> {
      return inTransaction(db, async (trx) => {
        const at = iso(input.now);
        await trx
          .insertInto('devices')
          .values(
            newDeviceRow(input, { admission: 'accepted', lastAuthMs: 0, lastSeenAt: null, at }),
          )
          .onConflict((oc) => oc.column('id').doNothing())
          .execute();
        const row = await trx
          .selectFrom('devices')
          .selectAll()
          .where('id', '=', input.id)
          .executeTakeFirstOrThrow();
        const device = toDevice(row);
        if (device.classId !== input.classId) {
          throw new PendulumError(
            'FAILED_PRECONDITION',
            `device ${input.id} is registered as class "${device.classId}", not "${input.classId}"`,
            { context: { deviceId: input.id } },
          );
        }
        if (device.admission === 'rejected' || device.admission === 'decommissioned') {
          throw new PendulumError(
            'FAILED_PRECONDITION',
            `device ${input.id} was ${device.admission}; preauthorizing does not readmit it`,
            { context: { deviceId: input.id, admission: device.admission } },
          );
        }
        if (device.admission === 'pending') {
          await trx
            .updateTable('devices')
            .set({ admission: 'accepted', updated_at: at })
            .where('id', '=', input.id)
            .execute();
          return { ...device, admission: 'accepted' as const, updatedAt: at };
        }
        return device;
      });
    },

    // setAdmission accepts, rejects or holds a device.
    async setAdmission(id: string, admission: Admission, now: Date): Promise<StoredDevice> {
      changes.deviceAccess++;
      const result = await db
        .updateTable('devices')
        .set({ admission, updated_at: iso(now) })
        .where('id', '=', id)
        .executeTakeFirst();
      changes.deviceAccess++;
      if (Number(result.numUpdatedRows) === 0) throw notFound(id);
      return mustGet(id);
    },

    // setLabels replaces a device's tags and groups (each a set: repeats are
    // dropped, order kept). A label is 1-64 of [A-Za-z0-9._:-].
    async setLabels(
      id: string,
      labels: { tags: readonly string[]; groups: readonly string[] },
      now: Date,
    ): Promise<StoredDevice> {
      const clean = (field: 'tags' | 'groups', values: readonly string[]) => {
        const bad = values.find((value) => !labelPattern.test(value));
        if (bad !== undefined)
          throw new PendulumError(
            'INVALID_ARGUMENT',
            `${field}: "${bad}" is not a label (1 to 64 of letters, digits, ".", "_", ":", "-")`,
            { context: { field } },
          );
        if (values.length > maxLabels)
          throw new PendulumError('INVALID_ARGUMENT', `${field}: at most ${maxLabels}`, {
            context: { field },
          });
        return JSON.stringify([...new Set(values)]);
      };
      const result = await db
        .updateTable('devices')
        .set({
          tags: clean('tags', labels.tags),
          groups: clean('groups', labels.groups),
          updated_at: iso(now),
        })
        .where('id', '=', id)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) === 0) throw notFound(id);
      return mustGet(id);
    },

    // list returns devices, oldest registration first.
    // selectable lists the admitted devices of a class with what rollout
    // selectors match: id, tags and groups.
    async selectable(classId: string): Promise<SelectableDevice[]> {
      const rows = await db
        .selectFrom('devices')
        .select(['id', 'class_id', 'tags', 'groups'])
        .where('class_id', '=', classId)
        .where('admission', '=', 'accepted')
        .execute();
      return rows.map((row) => ({
        id: row.id,
        classId: row.class_id,
        tags: JSON.parse(row.tags) as string[],
        groups: JSON.parse(row.groups) as string[],
      }));
    },

    async list(filter: { classId?: string } = {}): Promise<StoredDevice[]> {
      let query = db.selectFrom('devices').selectAll();
      if (filter.classId !== undefined) query = query.where('class_id', '=', filter.classId);
      const rows = await query.orderBy('created_at').orderBy('id').execute();
      return rows.map(toDevice);
    },
  });
}
