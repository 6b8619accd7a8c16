// pendulum devices: the fleet, each device's slot, version and history.

import { toJsonString } from '@bufbuild/protobuf';
import { durationFromMs, timestampDate } from '@bufbuild/protobuf/wkt';
import type { Command } from 'commander';
import { DeploymentState, Slot } from '../gen/pendulum/v1/device_pb.js';
import {
  type Device,
  DeviceAdmission,
  FleetService,
  ListDevicesResponseSchema,
} from '../gen/pendulum/v1/fleet_pb.js';
import { parsePublicKeyFile } from '../trust/index.js';
import {
  type ConnectionOptions,
  collect,
  connect,
  positiveInt,
  print,
  readText,
  withConnection,
} from './common.js';
import { durationOption } from './time-options.js';

// registerDevices adds `devices [list]|accept|reject|decommission|label|preauthorize|enrol-token`.
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
    .option('--silent', 'only devices that stopped checking in', false)
    .option('--json', 'print JSON', false)
    .action(
      async (options: ConnectionOptions & { class: string; silent: boolean; json: boolean }) => {
        const { client, close } = await connect(FleetService, options);
        try {
          const response = await client.listDevices({
            classId: options.class,
            silentOnly: options.silent,
          });
          if (options.json)
            return print(toJsonString(ListDevicesResponseSchema, response, { prettySpaces: 2 }));
          if (response.devices.length === 0) print('no devices');
          for (const device of response.devices) printDevice(device);
        } finally {
          close();
        }
      },
    );

  const verbs = {
    accept: 'admit a device pending admission',
    reject: 'refuse a device (its tokens stop working)',
    decommission:
      'retire a device for good: its tokens stop working and its key is never admitted again',
  } as const;
  for (const [verb, description] of Object.entries(verbs)) {
    withConnection(devices.command(`${verb} <device-id>`).description(description)).action(
      async (deviceId: string, options: ConnectionOptions) => {
        const { client, close } = await connect(FleetService, options);
        try {
          const { device } =
            verb === 'accept'
              ? await client.acceptDevice({ deviceId })
              : verb === 'reject'
                ? await client.rejectDevice({ deviceId })
                : await client.decommissionDevice({ deviceId });
          if (device !== undefined) printDevice(device);
        } finally {
          close();
        }
      },
    );
  }

  withConnection(
    devices
      .command('label <device-id>')
      .description(
        "set a device's tags and groups, which rollout selectors match (replaces the ones it had)",
      ),
  )
    .option('--tag <tag>', 'a tag (repeat for several)', collect, [])
    .option('--group <group>', 'a group (repeat for several)', collect, [])
    .action(
      async (deviceId: string, options: ConnectionOptions & { tag: string[]; group: string[] }) => {
        const { client, close } = await connect(FleetService, options);
        try {
          const { device } = await client.setDeviceLabels({
            deviceId,
            tags: options.tag,
            groups: options.group,
          });
          if (device !== undefined) printDevice(device);
        } finally {
          close();
        }
      },
    );

  withConnection(
    devices
      .command('preauthorize')
      .description(
        'register a device key before the device first calls: it is admitted when it authenticates with that key',
      ),
  )
    .requiredOption('--key <file.pub>', "the device's public key (pendulum keygen --out device)")
    .requiredOption('--class <id>', 'the device class')
    .action(async (options: ConnectionOptions & { key: string; class: string }) => {
      const key = parsePublicKeyFile(await readText(options.key), options.key);
      const { client, close } = await connect(FleetService, options);
      try {
        const { device } = await client.preauthorizeDevice({
          publicKey: key.publicKey,
          classId: options.class,
        });
        if (device !== undefined) printDevice(device);
      } finally {
        close();
      }
    });

  withConnection(
    devices
      .command('enrol-token')
      .description(
        'make an enrolment token: new devices of one class that present it (agent.toml device.enrolment_token) are admitted',
      ),
  )
    .requiredOption('--class <id>', 'the device class it admits')
    .option(
      '--ttl <duration>',
      'how long it works, e.g. "7d" (default: the server\'s)',
      durationOption('--ttl'),
    )
    .option('--uses <n>', 'how many devices it admits', positiveInt('--uses'), 1)
    .action(async (options: ConnectionOptions & { class: string; ttl?: number; uses: number }) => {
      const ttl = options.ttl === undefined ? undefined : durationFromMs(options.ttl);
      const { client, close } = await connect(FleetService, options);
      try {
        const created = await client.createEnrolmentToken({
          classId: options.class,
          uses: options.uses,
          ...(ttl === undefined ? {} : { ttl }),
        });
        const expires =
          created.expires === undefined ? '' : timestampDate(created.expires).toISOString();
        print(created.token);
        process.stderr.write(
          `enrolment token ${created.id}: admits ${options.uses} device(s) of class ${options.class} until ${expires}; shown once\n`,
        );
      } finally {
        close();
      }
    });
}

function printDevice(device: Device): void {
  const slot = device.bootedSlot === Slot.UNSPECIFIED ? '-' : Slot[device.bootedSlot];
  const seen =
    device.lastSeen === undefined ? 'never' : timestampDate(device.lastSeen).toISOString();
  print(
    `${device.id.slice(0, 16)}  class ${device.classId}  slot ${slot}  version ${device.installedVersion || '-'}  ${DeviceAdmission[device.admission].toLowerCase()}  agent ${device.agentState || '-'}  last seen ${seen}${device.silent ? '  SILENT' : ''}`,
  );
  if (device.tags.length + device.groups.length > 0)
    print(`    tags ${device.tags.join(',') || '-'}  groups ${device.groups.join(',') || '-'}`);
  for (const d of device.deployments) {
    const when = d.updated === undefined ? '' : timestampDate(d.updated).toISOString();
    const state = DeploymentState[d.state].toLowerCase();
    const why = d.errorCode === '' ? '' : `  ${d.errorCode}: ${d.message}`;
    print(`    ${when}  ${d.version}  ${state}${why}`);
  }
}
