// Every request message the server accepts, with a valid encoding of each to
// mutate. Methods are read from the service descriptors, so a new method is
// fuzzed as soon as it is generated (from an empty seed until it gets one here).
import { create, type DescMethod, toBinary } from '@bufbuild/protobuf';
import { DeviceService } from '../src/gen/pendulum/v1/device_pb.js';
import { FleetService } from '../src/gen/pendulum/v1/fleet_pb.js';
import { PublisherService } from '../src/gen/pendulum/v1/publisher_pb.js';
import { sha256, toHex } from '../src/trust/digest.js';
import { corpus, type World } from './corpus.js';

export const services = [DeviceService, PublisherService, FleetService] as const;

export interface RequestMethod {
  readonly method: DescMethod;
  // "/pendulum.v1.DeviceService/CheckIn", as grpc-js routes it.
  readonly path: string;
  // Valid encodings of its request message(s).
  readonly seeds: readonly Uint8Array[];
}

// What seeds refer to that only a running server knows.
export interface SeedContext {
  readonly deploymentId: string;
  readonly releaseId: string;
  readonly deviceId: string;
}

// requestMethods lists every method of the three services with seed encodings.
export function requestMethods(context: SeedContext): RequestMethod[] {
  const inits = seedInits(context);
  return services.flatMap((service) =>
    service.methods.map((method) => {
      const values = inits[method.localName] ?? [{}];
      return {
        method,
        path: `/${service.typeName}/${method.name}`,
        // Seeds are loosely typed: a field renamed in the proto is simply left out.
        seeds: values.map((init) => toBinary(method.input, create(method.input, init as never))),
      };
    }),
  );
}

function seedInits(context: SeedContext): Record<string, Record<string, unknown>[]> {
  const { deviceAuth, worlds, nextRoots, payload, classId } = corpus();
  const first = worlds[0] as World;
  const payloadId = toHex(sha256(payload));
  const auth = deviceAuth[0];
  return {
    authenticate: [{ ...auth }, { ...deviceAuth[1], enrolmentToken: 'pde_0123456789' }],
    checkIn: [
      {
        status: {
          bootedSlot: 1,
          installedVersion: '1.0.0',
          committedSequence: 6n,
          trustRootVersion: 1,
          agentState: 'idle',
          inventory: { kernel: '6.1.0', board: 'rev-b' },
        },
        nonce: new Uint8Array(32).fill(5),
      },
    ],
    download: [{ deploymentId: context.deploymentId, payloadId, offset: 1000n }],
    report: [
      {
        deploymentId: context.deploymentId,
        state: 2,
        bytesDone: 1000n,
        bytesTotal: 4096n,
        errorCode: '',
        message: 'downloading',
        logTail: 'line 1\nline 2',
        sequence: 1n,
      },
      { deploymentId: context.deploymentId, state: 9, errorCode: 'DIGEST_MISMATCH', sequence: 2n },
    ],
    uploadPayload: [
      { part: { case: 'header', value: { sha256: payloadId, size: BigInt(payload.length) } } },
      { part: { case: 'chunk', value: payload.subarray(0, 512) } },
    ],
    publishRelease: first.manifests.map((manifest) => ({ manifest })),
    listReleases: [{ classId }],
    putTrustRoot: [
      { trustRoot: first.rootSigned },
      ...nextRoots.map((trustRoot) => ({ trustRoot })),
    ],
    createRollout: [{ releaseId: context.releaseId, classId }],
    listRollouts: [{}],
    listDevices: [{ classId }],
    acceptDevice: [{ deviceId: context.deviceId }],
    rejectDevice: [{ deviceId: context.deviceId }],
    decommissionDevice: [{ deviceId: context.deviceId }],
    preauthorizeDevice: [{ publicKey: deviceAuth[1]?.publicKey, classId }],
    createEnrolmentToken: [{ classId, uses: 2, ttl: { seconds: 3600n } }],
  };
}
