// The rollout controller each replica runs: every tick, for every active
// rollout, decide (controller.ts) and apply the decision with the store's
// conditional updates, its audit record in the same transaction. Replicas
// ticking at once agree in the database: one advances a phase or pauses a
// rollout, the others change nothing and record nothing.
import type { Logger } from 'pino';
import type { FleetChange, RolloutSummary, Store } from '../store/index.js';
import { type Decision, decide, positionOf } from './controller.js';
import { assessHealth, type HealthAssessment } from './health-watch.js';

export interface ControlLoopOptions {
  readonly store: Store;
  readonly now: () => Date;
  readonly log: Logger;
  readonly intervalMs: number;
  // A device not seen for this long has lost contact (post-commit health).
  readonly silentAfterMs: number;
  // Told of each phase advance once it has committed (the Watch hub wakes
  // the devices the wider phase may now reach).
  readonly onChange?: (change: FleetChange) => void;
}

export interface ControlLoop {
  // tick runs one pass now and returns what it changed.
  tick(): Promise<AppliedDecision[]>;
  // stop ends the loop after the pass in flight, if any.
  stop(): Promise<void>;
}

export interface AppliedDecision {
  readonly rolloutId: string;
  readonly decision: Exclude<Decision, { kind: 'hold' }>;
}

// The audit actor of the controller's own changes.
export const controllerActor = 'server:rollout-controller';

// Deployment states that count as a success or a failure of the rollout.
const succeededStates = ['committed'];
const failedStates = ['failed', 'rolled_back'];

// rolloutHealth judges the devices in a rollout's post-commit health watch;
// undefined for a rollout without one.
export async function rolloutHealth(
  store: Store,
  rollout: RolloutSummary,
  now: Date,
  silentAfterMs: number,
): Promise<HealthAssessment | undefined> {
  const watch = rollout.plan.healthWatch;
  if (watch === undefined) return undefined;
  const since = new Date(now.getTime() - watch.watchMs);
  const committed = await store.deployments.committedSince(rollout.id, since);
  return assessHealth(watch, committed, now, silentAfterMs);
}

// tickOnce decides and applies for every active rollout; a rollout whose
// decision fails to apply is logged and left for the next pass.
export async function tickOnce(options: Omit<ControlLoopOptions, 'intervalMs'>) {
  const { store, now, log, onChange } = options;
  const applied: AppliedDecision[] = [];
  const active = (await store.rollouts.list()).filter((r) => r.state === 'active');
  for (const rollout of active) {
    try {
      const counts = await store.deployments.countByState(rollout.id);
      const sum = (states: string[]) => states.reduce((n, s) => n + (counts.get(s) ?? 0), 0);
      const at = now();
      const health = await rolloutHealth(store, rollout, at, options.silentAfterMs);
      const decision = decide(
        positionOf(rollout),
        { succeeded: sum(succeededStates), failed: sum(failedStates) },
        at,
        health,
      );
      if (decision.kind === 'hold') continue;
      const changed = await store.transaction(async (tx) => {
        if (decision.kind === 'advance') {
          if (!(await tx.rollouts.advancePhase(rollout.id, decision.from, at))) return false;
          const phase = rollout.plan.phases[decision.from + 1];
          await tx.audit.append({
            actor: controllerActor,
            action: 'rollout.advance',
            subject: rollout.id,
            detail: { phase: decision.from + 2, percent: phase?.percent },
            now: at,
          });
          return tx.fleetChanges.record({ classId: rollout.classId, now: at });
        }
        if (!(await tx.rollouts.pauseBySelf(rollout.id, decision.reason, at))) return false;
        await tx.audit.append({
          actor: controllerActor,
          action: 'rollout.self_pause',
          subject: rollout.id,
          detail: { reason: decision.reason },
          now: at,
        });
        return true;
      });
      if (changed === false) continue;
      if (changed !== true) onChange?.(changed);
      applied.push({ rolloutId: rollout.id, decision });
      if (decision.kind === 'advance')
        log.info({ rollout: rollout.id, phase: decision.from + 2 }, 'rollout advanced a phase');
      else log.warn({ rollout: rollout.id, reason: decision.reason }, 'rollout paused itself');
    } catch (error) {
      log.error({ err: error, rollout: rollout.id }, 'rollout controller pass failed');
    }
  }
  return applied;
}

// startControlLoop runs tickOnce every intervalMs (a pass never overlaps the
// one before) until stop().
export function startControlLoop(options: ControlLoopOptions): ControlLoop {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<unknown> = Promise.resolve();
  const tick = () => {
    const pass = tickOnce(options);
    inFlight = pass.catch(() => undefined);
    return pass;
  };
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      tick()
        .catch((error: unknown) => options.log.error({ err: error }, 'rollout controller failed'))
        .finally(schedule);
    }, options.intervalMs);
    timer.unref();
  };
  schedule();
  return {
    tick,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await inFlight;
    },
  };
}
