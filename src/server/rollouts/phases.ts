// Which devices a rollout reaches, phase by phase. Pure, and the same on
// every replica: a device's place in a rollout is a hash of (rollout id,
// device id), never a random draw or an insertion order.
import { createHash } from 'node:crypto';
import { PendulumError } from '../../errors.js';

// A device's place in one rollout, in basis points: 0 to 9,999.
export const bucketCount = 10_000;

// A phase reaches `percent` of the selected fleet (cumulative: phase 2 at
// 25 % includes phase 1's 5 %), and lasts at least `minSoakMs` before the
// next one may start.
export interface Phase {
  readonly percent: number;
  readonly minSoakMs: number;
}

// Which devices a rollout is for, all within the release's class: the
// devices named in `deviceIds`, and those carrying every one of `tags` and
// belonging to at least one of `groups` (an empty list asks nothing). With
// only ids given, the ids alone are the selection.
export interface Selector {
  readonly classId: string;
  readonly tags: readonly string[];
  readonly groups: readonly string[];
  readonly deviceIds: readonly string[];
}

export interface SelectableDevice {
  readonly id: string;
  readonly classId: string;
  readonly tags: readonly string[];
  readonly groups: readonly string[];
}

// A failure threshold pauses a rollout by itself: either a ratio of the
// devices that finished (failed or rolled back over all finished), or a count.
export type FailureThreshold =
  | { readonly kind: 'ratio'; readonly ratio: number; readonly minFinished: number }
  | { readonly kind: 'count'; readonly count: number };

// bucketOf places a device in a rollout: the first 8 bytes of a SHA-256 over
// both ids, modulo bucketCount.
export function bucketOf(rolloutId: string, deviceId: string): number {
  const digest = createHash('sha256')
    .update(`pendulum-rollout-v1\0${rolloutId}\0${deviceId}`)
    .digest();
  return Number(digest.readBigUInt64BE(0) % BigInt(bucketCount));
}

// checkPhases refuses a phase list a rollout cannot follow: empty, a
// percent outside (0, 100] or going down, a negative soak, or a last phase
// that does not reach the whole selection.
export function checkPhases(phases: readonly Phase[]): void {
  const invalid = (message: string, index?: number) =>
    new PendulumError('INVALID_ARGUMENT', message, {
      context: { field: index === undefined ? 'phases' : `phases[${index}]` },
    });
  if (phases.length === 0) throw invalid('a rollout needs at least one phase');
  let previous = 0;
  for (const [index, phase] of phases.entries()) {
    if (!Number.isFinite(phase.percent) || phase.percent <= 0 || phase.percent > 100)
      throw invalid(`phase ${index + 1}: percent must be above 0 and at most 100`, index);
    if (phase.percent < previous)
      throw invalid(
        `phase ${index + 1}: percent ${phase.percent} is below the ${previous} of the phase before; phases are cumulative`,
        index,
      );
    if (!Number.isSafeInteger(phase.minSoakMs) || phase.minSoakMs < 0)
      throw invalid(`phase ${index + 1}: the soak time must be zero or more`, index);
    previous = phase.percent;
  }
  if (previous !== 100)
    throw invalid(`the last phase reaches ${previous} %; it must reach 100 %`, phases.length - 1);
}

// phaseOf is the first phase (0-based) whose share holds the device, or
// undefined when none up to and including `current` does yet. Shares are
// cumulative, so a device in phase i stays in phase i as later phases open.
export function phaseOf(
  bucket: number,
  phases: readonly Phase[],
  current: number,
): number | undefined {
  for (let index = 0; index <= current && index < phases.length; index++) {
    const phase = phases[index] as Phase;
    if (bucket < Math.round(phase.percent * (bucketCount / 100))) return index;
  }
  return undefined;
}

// selects tells whether a rollout's selector takes a device.
export function selects(selector: Selector, device: SelectableDevice): boolean {
  if (device.classId !== selector.classId) return false;
  if (selector.deviceIds.includes(device.id)) return true;
  const onlyIds =
    selector.deviceIds.length > 0 && selector.tags.length === 0 && selector.groups.length === 0;
  if (onlyIds) return false;
  if (!selector.tags.every((tag) => device.tags.includes(tag))) return false;
  return selector.groups.length === 0 || selector.groups.some((g) => device.groups.includes(g));
}

// mayAdvance tells whether the next phase may start: the current one has
// soaked for its minimum time.
export function mayAdvance(
  phases: readonly Phase[],
  current: number,
  currentStartedAt: Date,
  now: Date,
): boolean {
  const phase = phases[current];
  if (phase === undefined || current + 1 >= phases.length) return false;
  return now.getTime() - currentStartedAt.getTime() >= phase.minSoakMs;
}

// breaches tells whether finished deployments cross a failure threshold.
export function breaches(
  threshold: FailureThreshold,
  finished: { readonly succeeded: number; readonly failed: number },
): boolean {
  if (threshold.kind === 'count') return finished.failed >= threshold.count;
  const total = finished.succeeded + finished.failed;
  if (total < threshold.minFinished || total === 0) return false;
  return finished.failed / total > threshold.ratio;
}
