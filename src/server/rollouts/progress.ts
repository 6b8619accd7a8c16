// How far a rollout has come: per phase, how many selected devices are
// waiting for their offer, downloading, installed, committed, failed or
// rolled back; why deployments failed; and how long each stage takes. Pure:
// the service loads devices, deployments and their events, this counts.
import type { RolloutPosition } from './controller.js';
import { bucketOf, phaseOf, type SelectableDevice, selects } from './phases.js';

export const stages = [
  'pending',
  'downloading',
  'installed',
  'committed',
  'failed',
  'rolled_back',
] as const;
export type Stage = (typeof stages)[number];
export type StageCounts = Record<Stage, number>;

// Which progress stage each deployment state counts in. Armed, rebooting,
// verifying and rolling back are an installed release being activated.
const stageOf: Readonly<Record<string, Stage>> = {
  offered: 'pending',
  downloading: 'downloading',
  installed: 'installed',
  armed: 'installed',
  rebooting: 'installed',
  verifying: 'installed',
  rolling_back: 'installed',
  committed: 'committed',
  failed: 'failed',
  rolled_back: 'rolled_back',
};

// Timed stages: from entering one deployment state to entering the next.
export const timedStages = [
  { name: 'start', from: 'offered', to: ['downloading'] },
  { name: 'download', from: 'downloading', to: ['installed'] },
  { name: 'wait_for_window', from: 'installed', to: ['armed'] },
  { name: 'reboot', from: 'armed', to: ['verifying'] },
  { name: 'health_check', from: 'verifying', to: ['committed', 'rolled_back'] },
] as const;

export interface ProgressDeployment {
  readonly id: string;
  readonly deviceId: string;
  readonly state: string;
  readonly errorCode: string;
}

export interface ProgressEvent {
  readonly deploymentId: string;
  readonly state: string;
  readonly at: string;
}

export interface PhaseProgress {
  readonly percent: number;
  // The phase has started (it is the current one or before it).
  readonly open: boolean;
  // Selected devices whose place falls in this phase (and no earlier one).
  readonly devices: number;
  readonly counts: StageCounts;
}

export interface StageTime {
  readonly stage: string;
  readonly samples: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
}

export interface RolloutProgress {
  readonly selected: number;
  readonly phases: PhaseProgress[];
  readonly total: StageCounts;
  // Error code → deployments that failed or rolled back with it.
  readonly failureReasons: Record<string, number>;
  readonly stageTimes: StageTime[];
}

const zero = (): StageCounts => ({
  pending: 0,
  downloading: 0,
  installed: 0,
  committed: 0,
  failed: 0,
  rolled_back: 0,
});

// rolloutProgress counts a rollout's devices by phase and stage. A selected
// device in an open phase without a deployment yet is pending (it is offered
// at its next check-in); devices in phases not open yet count only in
// `devices`. A deployment of a device the selector no longer takes (its
// labels changed) still counts, in the phase its hash gives.
export function rolloutProgress(
  rollout: RolloutPosition,
  devices: readonly SelectableDevice[],
  deployments: readonly ProgressDeployment[],
  events: readonly ProgressEvent[],
): RolloutProgress {
  const { plan } = rollout;
  const selector = {
    classId: rollout.classId,
    tags: plan.tags,
    groups: plan.groups,
    deviceIds: plan.deviceIds,
  };
  const phases = plan.phases.map((phase, index) => ({
    percent: phase.percent,
    open: index <= rollout.currentPhase,
    devices: 0,
    counts: zero(),
  }));
  const last = plan.phases.length - 1;
  const phaseIndex = (deviceId: string) =>
    phaseOf(bucketOf(rollout.id, deviceId), plan.phases, last) ?? last;
  const byDevice = new Map(deployments.map((d) => [d.deviceId, d]));
  let selected = 0;
  for (const device of devices) {
    if (!selects(selector, device)) continue;
    selected++;
    const phase = phases[phaseIndex(device.id)];
    if (phase === undefined) continue;
    phase.devices++;
    if (phase.open && !byDevice.has(device.id)) phase.counts.pending++;
  }
  const failureReasons: Record<string, number> = {};
  for (const deployment of deployments) {
    const stage = stageOf[deployment.state];
    const phase = phases[phaseIndex(deployment.deviceId)];
    if (stage === undefined || phase === undefined) continue;
    phase.counts[stage]++;
    if (stage === 'failed' || stage === 'rolled_back') {
      const reason = deployment.errorCode || 'UNKNOWN';
      failureReasons[reason] = (failureReasons[reason] ?? 0) + 1;
    }
  }
  const total = zero();
  for (const phase of phases) for (const stage of stages) total[stage] += phase.counts[stage];
  return { selected, phases, total, failureReasons, stageTimes: stageTimes(events) };
}

// stageTimes measures each timed stage over the deployments that went
// through it, from the first time each state was entered.
function stageTimes(events: readonly ProgressEvent[]): StageTime[] {
  const entered = new Map<string, Map<string, number>>();
  for (const event of events) {
    let states = entered.get(event.deploymentId);
    if (states === undefined) {
      states = new Map();
      entered.set(event.deploymentId, states);
    }
    const at = Date.parse(event.at);
    const first = states.get(event.state);
    if (first === undefined || at < first) states.set(event.state, at);
  }
  return timedStages.map((stage) => {
    const samples: number[] = [];
    for (const states of entered.values()) {
      const from = states.get(stage.from);
      const ends = stage.to
        .map((state) => states.get(state))
        .filter((at): at is number => at !== undefined);
      if (from === undefined || ends.length === 0) continue;
      const end = Math.min(...ends);
      if (end >= from) samples.push(end - from);
    }
    samples.sort((a, b) => a - b);
    return {
      stage: stage.name,
      samples: samples.length,
      p50Ms: quantile(samples, 0.5),
      p90Ms: quantile(samples, 0.9),
    };
  });
}

// quantile of sorted samples (nearest rank); 0 when there are none.
function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0;
}
