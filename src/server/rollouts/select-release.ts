// Who gets what: the release a device should be offered next. Pure.

export interface ReleaseCandidate {
  readonly rolloutId: string;
  readonly releaseId: string;
  readonly sequence: number;
  readonly expiresAt: Date;
  // When the rollout was created: the newest matching rollout wins.
  readonly createdAt: Date;
}

export interface DeviceView {
  readonly committedSequence: number;
  // Releases this device already has a deployment of, finished or not; a
  // release that failed on a device is not offered to it again.
  readonly attempted: ReadonlySet<string>;
}

// selectRelease picks, among the rollouts that reach the device (the caller
// passes only those), the newest one whose release the device may take: above
// what it has committed, not attempted before, not expired. When several
// rollouts target a device the newest wins, so an operator's latest decision
// counts; one whose release the device cannot take gives way to the next.
export function selectRelease(
  device: DeviceView,
  candidates: readonly ReleaseCandidate[],
  now: Date,
): ReleaseCandidate | undefined {
  let best: ReleaseCandidate | undefined;
  for (const candidate of candidates) {
    if (candidate.sequence <= device.committedSequence) continue;
    if (device.attempted.has(candidate.releaseId)) continue;
    if (candidate.expiresAt.getTime() <= now.getTime()) continue;
    if (best === undefined || newer(candidate, best)) best = candidate;
  }
  return best;
}

// newer orders rollouts by creation time; at the same instant the higher
// sequence, then the rollout id, so every replica picks the same one.
function newer(a: ReleaseCandidate, b: ReleaseCandidate): boolean {
  const byTime = a.createdAt.getTime() - b.createdAt.getTime();
  if (byTime !== 0) return byTime > 0;
  if (a.sequence !== b.sequence) return a.sequence > b.sequence;
  return a.rolloutId > b.rolloutId;
}
