// A simulated agent: its own Ed25519 device key, the real DeviceService client
// (src/rpc/client.ts), check-ins with a fresh nonce each, and, when asked, the
// checks the real agent makes on a reply (trust-root walk, freshness
// statement, manifest) and a download into a simulated slot (a hash).
import { createHash, createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { credentials, Client as GrpcClient, Metadata } from '@grpc/grpc-js';
import { isTransient } from '../../src/device/retry.js';
import { planInstall } from '../../src/device/verify-offer.js';
import {
  CheckInRequestSchema,
  type CheckInResponse,
  CheckInResponseSchema,
  DeploymentState,
  DeviceService,
  type Offer,
  Slot,
} from '../../src/gen/pendulum/v1/device_pb.js';
import { bearer } from '../../src/rpc/auth.js';
import { createClient } from '../../src/rpc/client.js';
import { fromServiceError } from '../../src/rpc/status.js';
import {
  type KeyPair,
  keyIdOf,
  signDeviceAuth,
  type VerifiedTrustRoot,
  verifyFreshness,
  walkTrustRoots,
} from '../../src/trust/index.js';
import { benchClass } from './vendor.js';

// Channel settings of the real agent (src/device/source/grpc.ts).
const agentChannelOptions = {
  'grpc.max_receive_message_length': 8 * 1024 * 1024,
  'grpc.keepalive_time_ms': 60_000,
  'grpc-node.flow_control_window': 4 * 1024 * 1024,
};

// agentChannel is a connection like an agent's: `own` gives it its own TCP
// connection (as each device has), otherwise grpc-js shares one per target.
export function agentChannel(address: string, own: boolean): GrpcClient {
  return new GrpcClient(address, credentials.createInsecure(), {
    ...agentChannelOptions,
    ...(own ? { 'grpc.use_local_subchannel_pool': 1 } : {}),
  });
}

// Ed25519 keys in DER: these prefixes, then the 32-byte seed or public key.
const pkcs8Prefix = Buffer.from('302e020100300506032b657004220420', 'hex');
const spkiPrefixLength = 12;

// fastKeyPair makes an Ed25519 key with OpenSSL (tweetnacl's takes
// milliseconds here) in tweetnacl's layout: seed || public key. From a seed
// through DER: generateKeyPairSync then a JWK export can deadlock Node 20
// when a garbage collection lands inside the export.
export function fastKeyPair(): KeyPair {
  const seed = randomBytes(32);
  const privateKey = createPrivateKey({
    key: Buffer.concat([pkcs8Prefix, seed]),
    format: 'der',
    type: 'pkcs8',
  });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  const pub = new Uint8Array(spki.subarray(spkiPrefixLength));
  const secretKey = new Uint8Array(64);
  secretKey.set(seed, 0);
  secretKey.set(pub, 32);
  return { keyId: keyIdOf(pub), publicKey: pub, secretKey };
}

export interface SimAgentOptions {
  readonly channel: GrpcClient;
  readonly key: KeyPair;
  // A device token already issued (Authenticate is then not called).
  readonly token?: string;
  readonly root: VerifiedTrustRoot;
  readonly timeoutMs?: number;
}

export type SimAgent = ReturnType<typeof createSimAgent>;

const checkInPath = `/${DeviceService.typeName}/${DeviceService.method.checkIn.name}`;
const identity = (bytes: Buffer) => bytes;
// CheckInRequest field 2 (nonce), length-delimited, 32 bytes long.
const nonceFieldHeader = Buffer.from([0x12, 32]);

// createSimAgent is one device: committed release `sequence`, booted from A.
export function createSimAgent(options: SimAgentOptions) {
  let token = options.token;
  const client = createClient(DeviceService, options.channel, () =>
    token === undefined ? {} : bearer(token),
  );
  const timeoutMs = options.timeoutMs ?? 30_000;
  const deviceId = options.key.keyId;
  let lastAuth = 0;
  let sequence = 1;
  let version = '1.1.0';
  let reportSequence = 0;
  let reportRetries = 0;
  // The encoded request without its nonce, for the sequence it was made for.
  let encodedStatus: { sequence: number; bytes: Buffer } | undefined;
  let metadata: { token: string | undefined; md: Metadata } | undefined;

  const status = () => ({
    bootedSlot: Slot.A,
    installedVersion: version,
    committedSequence: BigInt(sequence),
    trustRootVersion: options.root.version,
    agentState: 'idle',
    inventory: { board: 'bench-board', kernel: '6.1.0', agent: '0.1.0' },
  });
  const statusBytes = (): Buffer => {
    if (encodedStatus?.sequence !== sequence) {
      const request = create(CheckInRequestSchema, { status: status() });
      encodedStatus = { sequence, bytes: Buffer.from(toBinary(CheckInRequestSchema, request)) };
    }
    return encodedStatus.bytes;
  };
  const bearerMetadata = (): Metadata => {
    if (metadata !== undefined && metadata.token === token) return metadata.md;
    const md = new Metadata();
    for (const [key, value] of Object.entries(token === undefined ? {} : bearer(token)))
      md.set(key, value);
    metadata = { token, md };
    return md;
  };
  // checkReply checks a check-in reply as the agent does (poll.ts), throwing if it fails.
  const checkReply = (reply: CheckInResponse, nonce: Uint8Array) => {
    const root = walkTrustRoots(options.root, reply.trustRoots);
    verifyFreshness(reply.freshness, root, {
      deviceId,
      nonce,
      offer: reply.offer,
      now: new Date(),
    });
  };

  // report sends one state change and, like the agent's outbox, sends the
  // same report again (same sequence: the server records it once) until it
  // is acknowledged or `signal` stops the device.
  const report = async (
    deploymentId: string,
    state: DeploymentState,
    done: number,
    total: number,
    signal: AbortSignal | undefined,
  ) => {
    const request = {
      deploymentId,
      state,
      bytesDone: BigInt(done),
      bytesTotal: BigInt(total),
      sequence: BigInt(++reportSequence),
    };
    for (;;) {
      try {
        await client.report(request, { timeoutMs });
        return;
      } catch (error) {
        if (!isTransient(error)) throw error;
        reportRetries++;
        await sleep(1000, undefined, signal === undefined ? {} : { signal });
      }
    }
  };

  return {
    deviceId,
    key: options.key,
    get committedSequence() {
      return sequence;
    },
    // Reports sent again after a transient failure.
    get reportRetries() {
      return reportRetries;
    },

    // authenticate proves the device key and takes the token (DeviceService.Authenticate).
    async authenticate(): Promise<void> {
      const timestampMs = BigInt(Math.max(Date.now(), lastAuth + 1));
      lastAuth = Number(timestampMs);
      const reply = await client.authenticate(
        {
          publicKey: options.key.publicKey,
          classId: benchClass,
          timestampMs,
          signature: signDeviceAuth(options.key, benchClass, timestampMs),
        },
        { timeoutMs },
      );
      token = reply.token;
    },

    // checkIn reports the device's state with a new nonce; with `verify` the
    // reply is checked as the agent checks it (poll.ts), throwing if it fails.
    async checkIn(verify: boolean): Promise<CheckInResponse> {
      const nonce = new Uint8Array(randomBytes(32));
      const reply = await client.checkIn({ status: status(), nonce }, { timeoutMs });
      if (verify) checkReply(reply, nonce);
      return reply;
    },

    // checkInBytes is the same check-in on the wire (status, fresh nonce,
    // bearer token, deadline) as the load generator of the capacity and
    // latency figures sends it: the request is the status encoded once with
    // the nonce appended, and the reply is decoded only when `verify` asks
    // for the agent's checks. The echo's client carries raw bytes too, so
    // this process then spends on a check-in what it spends on an echo and
    // the ratio compares the two servers, not two clients.
    async checkInBytes(verify: boolean): Promise<void> {
      const nonce = randomBytes(32);
      const request = Buffer.concat([statusBytes(), nonceFieldHeader, nonce]);
      const reply = await new Promise<Buffer>((resolve, reject) => {
        options.channel.makeUnaryRequest(
          checkInPath,
          identity,
          identity,
          request,
          bearerMetadata(),
          { deadline: Date.now() + timeoutMs },
          (error, value) => {
            if (error) reject(fromServiceError(error, checkInPath));
            else if (value === undefined) reject(new Error(`${checkInPath}: no reply`));
            else resolve(value);
          },
        );
      });
      if (verify) checkReply(fromBinary(CheckInResponseSchema, reply), new Uint8Array(nonce));
    },

    // install takes an offer through a simulated slot: the manifest verified
    // (with `verify`), the payload streamed and hashed, then the reports an
    // agent sends up to "committed", with the time writing the slot and the
    // reboot into it take on a device (`pace`, default none).
    async install(
      offer: Offer,
      verify: boolean,
      pace: { readonly installMs: number; readonly rebootMs: number } = {
        installMs: 0,
        rebootMs: 0,
      },
      signal?: AbortSignal,
    ): Promise<void> {
      let expected: string | undefined;
      if (verify) {
        const { deployment } = planInstall(offer, options.root, {
          classId: benchClass,
          committed: { slot: 'A', version, sequence },
          booted: 'A',
          floor: 0,
          targetCapacity: Number.MAX_SAFE_INTEGER,
          now: new Date(),
        });
        expected = deployment.sha256;
      }
      const [payload] = offer.payloads;
      if (payload === undefined) throw new Error('offer without a payload');
      const total = Number(payload.size);
      await report(offer.deploymentId, DeploymentState.DOWNLOADING, 0, total, signal);
      const done = await this.download(offer.deploymentId, payload.payloadId, undefined, signal);
      if (done.bytes !== total || done.sha256 !== (expected ?? payload.payloadId))
        throw new Error(`device ${deviceId}: payload ${done.sha256} does not match the offer`);
      const wait = (ms: number) => sleep(ms, undefined, signal === undefined ? {} : { signal });
      await wait(pace.installMs);
      await report(offer.deploymentId, DeploymentState.INSTALLED, total, total, signal);
      await report(offer.deploymentId, DeploymentState.ARMED, total, total, signal);
      await wait(pace.rebootMs);
      await report(offer.deploymentId, DeploymentState.VERIFYING, total, total, signal);
      await report(offer.deploymentId, DeploymentState.COMMITTED, total, total, signal);
      sequence += 1;
      version = `1.${sequence}.0`;
    },

    // download streams a payload and hashes it; paced, it reads no faster
    // than `readBytesPerSec` (HTTP/2 flow control then holds the server back).
    async download(
      deploymentId: string,
      payloadId: string,
      readBytesPerSec?: number,
      signal?: AbortSignal,
      onBytes?: (n: number) => void,
    ): Promise<{ bytes: number; sha256: string }> {
      const hash = createHash('sha256');
      const start = Date.now();
      let bytes = 0;
      for await (const chunk of client.download(
        { deploymentId, payloadId, offset: 0n },
        signal === undefined ? {} : { signal },
      )) {
        hash.update(chunk.data);
        bytes += chunk.data.length;
        onBytes?.(chunk.data.length);
        if (readBytesPerSec !== undefined) {
          const due = start + (bytes / readBytesPerSec) * 1000;
          if (due > Date.now()) await sleep(due - Date.now(), undefined, { signal });
        }
      }
      return { bytes, sha256: hash.digest('hex') };
    },

    close: () => options.channel.close(),
  };
}
