// Deployments: one release on one device, its latest state, and the history
// of states it went through (deployment_events).

import type { Kysely, Selectable } from 'kysely';
import { PendulumError } from '../../errors.js';
import type { CommittedDevice } from '../rollouts/health-watch.js';
import type { ProgressDeployment, ProgressEvent } from '../rollouts/progress.js';
import { prepared } from './prepared.js';
import { inTransaction, iso, num, requireSafeInteger } from './rows.js';
import type { Database, DeploymentsTable } from './schema.js';
import { guarded, isUniqueViolation } from './store-error.js';

export interface StoredDeployment {
  readonly id: string;
  readonly deviceId: string;
  readonly releaseId: string;
  readonly rolloutId: string | null;
  readonly state: string;
  readonly bytesDone: number;
  readonly bytesTotal: number;
  readonly errorCode: string;
  readonly message: string;
  readonly logTail: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  // Set while the deployment is in a final state.
  readonly finishedAt: string | null;
  // The sequence of the last device report recorded.
  readonly reportSequence: number;
}

// A deployment as listed for a device, with its release's version.
export interface DeploymentSummary extends StoredDeployment {
  readonly version: string;
}

export interface DeploymentEvent {
  readonly id: number;
  readonly state: string;
  readonly errorCode: string;
  readonly message: string;
  readonly at: string;
}

export interface Transition {
  readonly state: string;
  readonly bytesDone: number;
  readonly bytesTotal: number;
  readonly errorCode: string;
  readonly message: string;
  readonly logTail: string;
  // Whether `state` is final (installed, failed, rolled back…).
  readonly finished: boolean;
  // The device's report sequence; at or below the last recorded one, the
  // transition is not applied (a replay or a retry).
  readonly sequence: number;
}

export type DeploymentRepository = ReturnType<typeof createDeploymentRepository>;

// SQLite allows 32766 bound parameters; stay far below it.
const idsPerQuery = 500;

function toDeployment(row: Selectable<DeploymentsTable>): StoredDeployment {
  return {
    id: row.id,
    deviceId: row.device_id,
    releaseId: row.release_id,
    rolloutId: row.rollout_id,
    state: row.state,
    bytesDone: num(row.bytes_done),
    bytesTotal: num(row.bytes_total),
    errorCode: row.error_code,
    message: row.message,
    logTail: row.log_tail,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    finishedAt: row.finished_at,
    reportSequence: num(row.report_sequence),
  };
}

// createDeploymentRepository binds the deployment functions to a database.
export function createDeploymentRepository(db: Kysely<Database>) {
  // Every check-in looks for its device's open deployment: compiled once.
  const selectOpen = prepared(db, 1, (q, deviceId) =>
    q
      .selectFrom('deployments')
      .selectAll()
      .where('device_id', '=', deviceId)
      .where('finished_at', 'is', null)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc'),
  );
  const one = async (trx: Kysely<Database>, id: string): Promise<StoredDeployment | undefined> => {
    const row = await trx
      .selectFrom('deployments')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row === undefined ? undefined : toDeployment(row);
  };

  const summaries = () =>
    db
      .selectFrom('deployments')
      .innerJoin('releases', 'releases.id', 'deployments.release_id')
      .selectAll('deployments')
      .select('releases.version');

  return guarded('deployments', {
    // find returns the deployment of a release on a device, if one was made.
    async find(deviceId: string, releaseId: string): Promise<StoredDeployment | undefined> {
      const row = await db
        .selectFrom('deployments')
        .selectAll()
        .where('device_id', '=', deviceId)
        .where('release_id', '=', releaseId)
        .executeTakeFirst();
      return row === undefined ? undefined : toDeployment(row);
    },

    // get returns one deployment.
    async get(id: string): Promise<StoredDeployment | undefined> {
      return one(db, id);
    },

    // create offers a release to a device; a device gets each release once.
    async create(input: {
      id: string;
      deviceId: string;
      releaseId: string;
      rolloutId: string | null;
      bytesTotal: number;
      now: Date;
    }): Promise<StoredDeployment> {
      requireSafeInteger(input.bytesTotal, 'bytesTotal');
      const at = iso(input.now);
      try {
        return await inTransaction(db, async (trx) => {
          await trx
            .insertInto('deployments')
            .values({
              id: input.id,
              device_id: input.deviceId,
              release_id: input.releaseId,
              rollout_id: input.rolloutId,
              state: 'offered',
              bytes_done: 0,
              bytes_total: input.bytesTotal,
              error_code: '',
              message: '',
              log_tail: '',
              created_at: at,
              updated_at: at,
              finished_at: null,
            })
            .execute();
          await trx
            .insertInto('deployment_events')
            .values({ deployment_id: input.id, state: 'offered', error_code: '', message: '', at })
            .execute();
          const created = await one(trx, input.id);
          if (created === undefined)
            throw new PendulumError('INTERNAL', `deployment ${input.id} vanished after insert`);
          return created;
        });
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        throw new PendulumError(
          'ALREADY_EXISTS',
          `release ${input.releaseId} was already offered to device ${input.deviceId}`,
          {
            context: { deviceId: input.deviceId, releaseId: input.releaseId },
            cause: error,
          },
        );
      }
    },

    // transition records a device report, unless one with the same or a
    // higher sequence was recorded already (`recorded` tells which).
    async transition(
      id: string,
      change: Transition,
      now: Date,
    ): Promise<{ deployment: StoredDeployment; recorded: boolean }> {
      requireSafeInteger(change.bytesDone, 'bytesDone');
      requireSafeInteger(change.bytesTotal, 'bytesTotal');
      requireSafeInteger(change.sequence, 'sequence', 1);
      const at = iso(now);
      return inTransaction(db, async (trx) => {
        const current = await one(trx, id);
        if (current === undefined)
          throw new PendulumError('NOT_FOUND', `deployment ${id} not found`, {
            context: { deploymentId: id },
          });
        if (change.sequence <= current.reportSequence)
          return { deployment: current, recorded: false };
        // A final state keeps the time it was first reached; leaving one (a retry) clears it.
        const finishedAt = change.finished ? (current.finishedAt ?? at) : null;
        const updatedRows = await trx
          .updateTable('deployments')
          .set({
            state: change.state,
            bytes_done: change.bytesDone,
            bytes_total: change.bytesTotal,
            error_code: change.errorCode,
            message: change.message,
            log_tail: change.logTail,
            updated_at: at,
            finished_at: finishedAt,
            report_sequence: change.sequence,
          })
          .where('id', '=', id)
          // Two replicas recording at once: only one moves the sequence.
          .where('report_sequence', '<', change.sequence)
          .executeTakeFirst();
        if (updatedRows.numUpdatedRows === 0n) return { deployment: current, recorded: false };
        await trx
          .insertInto('deployment_events')
          .values({
            deployment_id: id,
            state: change.state,
            error_code: change.errorCode,
            message: change.message,
            at,
          })
          .execute();
        const updated = await one(trx, id);
        if (updated === undefined)
          throw new PendulumError('INTERNAL', `deployment ${id} vanished during its transition`);
        return { deployment: updated, recorded: true };
      });
    },

    // events returns a deployment's history, oldest first.
    async events(id: string): Promise<DeploymentEvent[]> {
      const rows = await db
        .selectFrom('deployment_events')
        .select(['id', 'state', 'error_code', 'message', 'at'])
        .where('deployment_id', '=', id)
        .orderBy('id')
        .execute();
      return rows.map((row) => ({
        id: num(row.id),
        state: row.state,
        errorCode: row.error_code,
        message: row.message,
        at: row.at,
      }));
    },

    // listForDevices maps every requested device to its deployments, newest first.
    async listForDevices(deviceIds: readonly string[]): Promise<Map<string, DeploymentSummary[]>> {
      const byDevice = new Map<string, DeploymentSummary[]>(deviceIds.map((id) => [id, []]));
      const unique = [...byDevice.keys()];
      for (let start = 0; start < unique.length; start += idsPerQuery) {
        const rows = await summaries()
          .where('deployments.device_id', 'in', unique.slice(start, start + idsPerQuery))
          .orderBy('deployments.created_at', 'desc')
          .orderBy('deployments.id', 'desc')
          .execute();
        for (const row of rows)
          byDevice.get(row.device_id)?.push({ ...toDeployment(row), version: row.version });
      }
      return byDevice;
    },

    // ofRollout lists a rollout's deployments: which device, where it is, why it failed.
    async ofRollout(rolloutId: string): Promise<ProgressDeployment[]> {
      const rows = await db
        .selectFrom('deployments')
        .select(['id', 'device_id', 'state', 'error_code'])
        .where('rollout_id', '=', rolloutId)
        .execute();
      return rows.map((row) => ({
        id: row.id,
        deviceId: row.device_id,
        state: row.state,
        errorCode: row.error_code,
      }));
    },

    // eventsOfRollout lists every state change of a rollout's deployments.
    async eventsOfRollout(rolloutId: string): Promise<ProgressEvent[]> {
      const rows = await db
        .selectFrom('deployment_events')
        .innerJoin('deployments', 'deployments.id', 'deployment_events.deployment_id')
        .select([
          'deployment_events.deployment_id',
          'deployment_events.state',
          'deployment_events.at',
        ])
        .where('deployments.rollout_id', '=', rolloutId)
        .execute();
      return rows.map((row) => ({ deploymentId: row.deployment_id, state: row.state, at: row.at }));
    },

    // committedSince lists the devices that committed a rollout's release at
    // or after `since`, with what they now run and say about its health.
    async committedSince(rolloutId: string, since: Date): Promise<CommittedDevice[]> {
      const rows = await db
        .selectFrom('deployments')
        .innerJoin('devices', 'devices.id', 'deployments.device_id')
        .innerJoin('releases', 'releases.id', 'deployments.release_id')
        .select([
          'deployments.device_id',
          'deployments.finished_at',
          'devices.committed_sequence',
          'devices.last_seen_at',
          'devices.health_committed_at',
          'devices.health_restarts',
          'devices.health_checks_run',
          'devices.health_checks_failed',
          'devices.health_last_failure',
          'releases.sequence',
        ])
        .where('deployments.rollout_id', '=', rolloutId)
        .where('deployments.state', '=', 'committed')
        .where('deployments.finished_at', '>=', iso(since))
        .execute();
      return rows.map((row) => ({
        deviceId: row.device_id,
        committedAt: new Date(row.finished_at ?? 0),
        runningSequence: num(row.committed_sequence),
        releaseSequence: num(row.sequence),
        lastSeenAt: row.last_seen_at === null ? null : new Date(row.last_seen_at),
        health: {
          committedAt: row.health_committed_at,
          restarts: num(row.health_restarts),
          checksRun: num(row.health_checks_run),
          checksFailed: num(row.health_checks_failed),
          lastFailure: row.health_last_failure,
        },
      }));
    },

    // countByState counts a rollout's deployments in each state.
    async countByState(rolloutId: string): Promise<Map<string, number>> {
      const rows = await db
        .selectFrom('deployments')
        .select(['state', (eb) => eb.fn.countAll<number | string | bigint>().as('count')])
        .where('rollout_id', '=', rolloutId)
        .groupBy('state')
        .execute();
      return new Map(rows.map((row) => [row.state, num(row.count)]));
    },

    // cancelUnstarted closes the deployments of a rollout that no device has
    // started yet (still "offered") as failed with `errorCode`, and returns
    // how many. A device that starts one later reports a newer sequence and
    // reopens it, which is the truth about that device.
    async cancelUnstarted(
      rolloutId: string,
      cancel: { errorCode: string; message: string },
      now: Date,
    ): Promise<number> {
      const at = iso(now);
      return inTransaction(db, async (trx) => {
        const ids = (
          await trx
            .selectFrom('deployments')
            .select('id')
            .where('rollout_id', '=', rolloutId)
            .where('state', '=', 'offered')
            .where('finished_at', 'is', null)
            .execute()
        ).map((row) => row.id);
        for (let start = 0; start < ids.length; start += idsPerQuery) {
          const batch = ids.slice(start, start + idsPerQuery);
          await trx
            .updateTable('deployments')
            .set({
              state: 'failed',
              error_code: cancel.errorCode,
              message: cancel.message,
              updated_at: at,
              finished_at: at,
            })
            .where('id', 'in', batch)
            .execute();
          await trx
            .insertInto('deployment_events')
            .values(
              batch.map((id) => ({
                deployment_id: id,
                state: 'failed',
                error_code: cancel.errorCode,
                message: cancel.message,
                at,
              })),
            )
            .execute();
        }
        return ids.length;
      });
    },

    // openForDevice lists the device's deployments not in a final state, newest first.
    async openForDevice(deviceId: string): Promise<StoredDeployment[]> {
      return (await selectOpen(deviceId)).map(toDeployment);
    },
  });
}
