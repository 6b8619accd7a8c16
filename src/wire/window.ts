// Maintenance windows on the wire ↔ the WindowSpec both ends check.
import type { MessageInitShape } from '@bufbuild/protobuf';
import { durationFromMs, durationMs } from '@bufbuild/protobuf/wkt';
import { PendulumError } from '../errors.js';
import type { MaintenanceWindow, MaintenanceWindowSchema } from '../gen/pendulum/v1/device_pb.js';
import { parseWindow, type WindowSpec } from '../schedule/window.js';

// windowFromWire reads and checks a window; `field` names it in errors.
export function windowFromWire(window: MaintenanceWindow, field: string): WindowSpec {
  const ms = window.duration === undefined ? 0 : durationMs(window.duration);
  if (!Number.isSafeInteger(ms))
    throw new PendulumError('INVALID_ARGUMENT', `${field}.duration is out of range`, {
      context: { field: `${field}.duration` },
    });
  const spec = { cron: window.cron, durationMs: ms, timezone: window.timezone };
  parseWindow(spec);
  return spec;
}

// windowToWire shows a window in a message.
export function windowToWire(spec: WindowSpec): MessageInitShape<typeof MaintenanceWindowSchema> {
  return {
    cron: spec.cron,
    duration: durationFromMs(spec.durationMs),
    timezone: spec.timezone,
  };
}
