// Wire enums ↔ the strings stored in the database and shown to people.
import { DeploymentState, Slot } from '../gen/pendulum/v1/device_pb.js';
import { DeviceAdmission, RolloutState } from '../gen/pendulum/v1/fleet_pb.js';

export const deploymentStates = [
  'offered',
  'downloading',
  'installed',
  'armed',
  'rebooting',
  'verifying',
  'committed',
  'rolling_back',
  'failed',
  'rolled_back',
] as const;
export type DeploymentStateName = (typeof deploymentStates)[number];

const deploymentStateWire: Record<DeploymentStateName, DeploymentState> = {
  offered: DeploymentState.OFFERED,
  downloading: DeploymentState.DOWNLOADING,
  installed: DeploymentState.INSTALLED,
  armed: DeploymentState.ARMED,
  rebooting: DeploymentState.REBOOTING,
  verifying: DeploymentState.VERIFYING,
  committed: DeploymentState.COMMITTED,
  rolling_back: DeploymentState.ROLLING_BACK,
  failed: DeploymentState.FAILED,
  rolled_back: DeploymentState.ROLLED_BACK,
};

// isFinalDeploymentState: nothing follows these (takes stored names too).
export function isFinalDeploymentState(state: string): boolean {
  return state === 'committed' || state === 'failed' || state === 'rolled_back';
}

// deploymentStateToWire maps a stored state name to the wire enum.
export function deploymentStateToWire(state: string): DeploymentState {
  return deploymentStateWire[state as DeploymentStateName] ?? DeploymentState.UNSPECIFIED;
}

// deploymentStateFromWire maps the wire enum to a state name, or undefined.
export function deploymentStateFromWire(state: DeploymentState): DeploymentStateName | undefined {
  return deploymentStates.find((name) => deploymentStateWire[name] === state);
}

// slotToWire maps 'A' | 'B' | null to the wire enum.
export function slotToWire(slot: string | null | undefined): Slot {
  return slot === 'A' ? Slot.A : slot === 'B' ? Slot.B : Slot.UNSPECIFIED;
}

// slotFromWire maps the wire enum to 'A' | 'B' | null.
export function slotFromWire(slot: Slot): 'A' | 'B' | null {
  return slot === Slot.A ? 'A' : slot === Slot.B ? 'B' : null;
}

const admissionWire = {
  pending: DeviceAdmission.PENDING,
  accepted: DeviceAdmission.ACCEPTED,
  rejected: DeviceAdmission.REJECTED,
  decommissioned: DeviceAdmission.DECOMMISSIONED,
} as const;

// admissionToWire maps a stored admission to the wire enum.
export function admissionToWire(admission: string): DeviceAdmission {
  return admissionWire[admission as keyof typeof admissionWire] ?? DeviceAdmission.UNSPECIFIED;
}

const rolloutStateWire = {
  active: RolloutState.ACTIVE,
  paused: RolloutState.PAUSED,
  aborted: RolloutState.ABORTED,
} as const;

// rolloutStateToWire maps a stored rollout state to the wire enum.
export function rolloutStateToWire(state: string): RolloutState {
  return rolloutStateWire[state as keyof typeof rolloutStateWire] ?? RolloutState.UNSPECIFIED;
}
