// pendulum devices: the fleet, each device's slot, version and history.

import { toJsonString } from '@bufbuild/protobuf';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import type { Command } from 'commander';
import { DeploymentState, Slot } from '../gen/pendulum/v1/device_pb.js';
import {
  type Device,
  DeviceAdmission,
  FleetService,
  ListDevicesResponseSchema,
} from '../gen/pendulum/v1/fleet_pb.js';
import { type ConnectionOptions, connect, print, withConnection } from './common.js';

// registerDevices adds `devices [list]|accept|reject`.
export function registerDevices(program: Command): void {
  const devices = program
    .command('devices')
    .description('devices: slots, installed versions and deployment history');

  withConnection(
    devices
      .command('list', { isDefault: true })
      .description('list devices with their deployment history'),
  )
    .option('--class <id>', 'only this device class', '')
    .option('--json', 'print JSON', false)
    .action(async (options: ConnectionOptions & { class: string; json: boolean }) => {
      const { client, close } = await connect(FleetService, options);
      try {
        const response = await client.listDevices({ classId: options.class });
        if (options.json)
          return print(toJsonString(ListDevicesResponseSchema, response, { prettySpaces: 2 }));
        if (response.devices.length === 0) print('no devices');
        for (const device of response.devices) printDevice(device);
      } finally {
        close();
      }
    });

  for (const verb of ['accept', 'reject'] as const) {
    withConnection(
      devices
        .command(`${verb} <device-id>`)
        .description(
          `${verb} a device ${verb === 'accept' ? 'pending admission' : '(its tokens stop working)'}`,
        ),
    ).action(async (deviceId: string, options: ConnectionOptions) => {
      const { client, close } = await connect(FleetService, options);
      try {
        const { device } =
          verb === 'accept'
            ? await client.acceptDevice({ deviceId })
            : await client.rejectDevice({ deviceId });
        if (device !== undefined) printDevice(device);
      } finally {
        close();
      }
    });
  }
}

function printDevice(device: Device): void {
  const slot = device.bootedSlot === Slot.UNSPECIFIED ? '-' : Slot[device.bootedSlot];
  const seen =
    device.lastSeen === undefined ? 'never' : timestampDate(device.lastSeen).toISOString();
  print(
    `${device.id.slice(0, 16)}  class ${device.classId}  slot ${slot}  version ${device.installedVersion || '-'}  ${DeviceAdmission[device.admission].toLowerCase()}  agent ${device.agentState || '-'}  last seen ${seen}`,
  );
  for (const d of device.deployments) {
    const when = d.updated === undefined ? '' : timestampDate(d.updated).toISOString();
    const state = DeploymentState[d.state].toLowerCase();
    const why = d.errorCode === '' ? '' : `  ${d.errorCode}: ${d.message}`;
    print(`    ${when}  ${d.version}  ${state}${why}`);
  }
}
