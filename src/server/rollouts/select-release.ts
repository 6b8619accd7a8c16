// Who gets what: the release a device should be offered next. Pure.

export interface ReleaseCandidate {
  readonly rolloutId: string;
  readonly releaseId: string;
  readonly sequence: number;
  readonly expiresAt: Date;
}

export interface DeviceView {
  readonly committedSequence: number;
  // Releases this device already has a deployment of, finished or not; a
  // release that failed on a device is not offered to it again.
  readonly attempted: ReadonlySet<string>;
}

// selectRelease picks the highest-sequence candidate the device has not
// attempted, that is above what it runs and has not expired.
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
    if (best === undefined || candidate.sequence > best.sequence) best = candidate;
  }
  return best;
}
