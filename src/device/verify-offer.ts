// From an unverified offer to an install plan, before a single payload byte
// is fetched. Pure: the trust core does the checking; this adds what the
// agent itself can install.

import { PendulumError } from '../errors.js';
import type { Offer } from '../gen/pendulum/v1/device_pb.js';
import { ComponentKind } from '../gen/pendulum/v1/manifest_pb.js';
import type { WindowSpec } from '../schedule/window.js';
import {
  floorOnCommit,
  type VerifiedManifest,
  type VerifiedTrustRoot,
  verifyManifest,
} from '../trust/index.js';
import { windowFromWire } from '../wire/window.js';
import type { DeploymentRecord } from './agent-state.js';
import { otherSlot, type SlotName } from './slots/slot.js';

export interface InstallContext {
  readonly classId: string;
  readonly committed: {
    readonly slot: SlotName;
    readonly version: string;
    readonly sequence: number;
  };
  readonly booted: SlotName;
  // The device's persisted anti-rollback floor.
  readonly floor: number;
  // Capacity of the slot the release would be written to.
  readonly targetCapacity: number;
  readonly now: Date;
}

// planInstall verifies the offered manifest and returns what to install where.
export function planInstall(
  offer: Offer,
  root: VerifiedTrustRoot,
  context: InstallContext,
): { manifest: VerifiedManifest; deployment: DeploymentRecord } {
  if (offer.deploymentId === '')
    throw new PendulumError('MALFORMED', 'offer has no deployment id', {
      context: { field: 'deployment_id' },
    });
  if (offer.manifest === undefined)
    throw new PendulumError('MALFORMED', 'offer has no manifest', {
      context: { field: 'manifest' },
    });
  const manifest = verifyManifest(offer.manifest, root, {
    now: context.now,
    classId: context.classId,
    aboveSequence: context.committed.sequence,
    floor: context.floor,
    maxComponentBytes: context.targetCapacity,
  });
  const [component, ...rest] = manifest.components;
  if (component === undefined || rest.length > 0 || component.kind !== ComponentKind.ROOTFS) {
    throw new PendulumError(
      'INCOMPATIBLE',
      `release ${manifest.version}: this agent installs exactly one rootfs component`,
      {
        context: { field: 'components' },
      },
    );
  }
  const payload = offer.payloads.find((p) => p.component === component.name);
  if (
    payload === undefined ||
    payload.payloadId !== component.sha256 ||
    Number(payload.size) !== component.size
  ) {
    throw new PendulumError(
      'MALFORMED',
      `offer's payload for component "${component.name}" does not match the signed manifest`,
      {
        context: { field: 'payloads' },
      },
    );
  }
  const window = activationWindow(offer);
  return {
    manifest,
    deployment: {
      id: offer.deploymentId,
      payloadId: payload.payloadId,
      version: manifest.version,
      sequence: manifest.sequence,
      sha256: component.sha256,
      size: component.size,
      targetSlot: otherSlot(context.booted),
      fromSlot: context.booted,
      fromVersion: context.committed.version,
      bootAttempts: manifest.bootAttempts,
      confirmDeadlineMs: manifest.confirmDeadlineMs,
      rollbackFloor: floorOnCommit(manifest),
      ...(window === undefined ? {} : { window }),
    },
  };
}

// activationWindow reads the offer's maintenance window; one the agent cannot
// follow (a bad cron, an unknown time zone) refuses the offer, since
// activating outside the rollout's window is what it forbids.
function activationWindow(offer: Offer): WindowSpec | undefined {
  if (offer.activationWindow === undefined) return undefined;
  try {
    return windowFromWire(offer.activationWindow, 'activation_window');
  } catch (error) {
    throw new PendulumError(
      'MALFORMED',
      `offer's activation window cannot be followed: ${PendulumError.from(error).message}`,
      { context: { field: 'activation_window' }, cause: error },
    );
  }
}
