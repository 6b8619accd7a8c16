// Request messages: bytes off the wire through the server's own deserializer,
// then through the real handlers. Bytes that do not decode are refused with
// INVALID_ARGUMENT before any handler runs; a handler may only answer or
// refuse with a closed code.

import { fromBinary, toBinary } from '@bufbuild/protobuf';
import fc from 'fast-check';
import { PendulumError } from '../../src/errors.js';
import { DeviceService } from '../../src/gen/pendulum/v1/device_pb.js';
import { SignedSchema, TrustRootSchema } from '../../src/gen/pendulum/v1/manifest_pb.js';
import { decoded, methodDefinition } from '../../src/rpc/server.js';
import { sha256, toHex } from '../../src/trust/digest.js';
import { corpus } from '../corpus.js';
import { defineAsyncFamily, defineFamily } from '../family.js';
import { type KnownValues, messageBytes } from '../message-arbitrary.js';
import { bytesLike } from '../mutate.js';
import { deviceAuthInput, meetsThreshold, verifies } from '../oracle.js';
import {
  accepted,
  attemptAsync,
  decodeRefusal,
  falseAcceptance,
  type Outcome,
} from '../outcome.js';
import { type RequestMethod, requestMethods } from '../requests.js';
import { messages, openServerHarness, type ServerHarness } from '../server-harness.js';

const placeholders = {
  deploymentId: '00000000-0000-4000-8000-000000000000',
  releaseId: '0'.repeat(64),
  deviceId: '1'.repeat(64),
};

let methodsWithPlaceholders: RequestMethod[] | undefined;

// decodeMethods are the methods with seeds that need no running server.
function decodeMethods(): RequestMethod[] {
  methodsWithPlaceholders ??= requestMethods(placeholders);
  return methodsWithPlaceholders;
}

// decode runs the deserializer grpc-js is given for the method, and the check
// every handler makes of what it left.
function decode(method: RequestMethod, bytes: Uint8Array): { message: unknown } | Outcome {
  try {
    const message = methodDefinition(method.method, method.path).requestDeserialize(
      Buffer.from(bytes),
    );
    return { message: decoded(message) };
  } catch (error) {
    if (error instanceof PendulumError && error.code === 'INVALID_ARGUMENT')
      return { verdict: 'refused', detail: 'undecodable request' };
    return decodeRefusal(error);
  }
}

// requestInput picks a method and bytes for it: its own seeds damaged, another
// method's, or (with `known`) a message built field by field.
function requestInput(methods: readonly RequestMethod[], maxMessages: number, known?: KnownValues) {
  const everySeed = methods.flatMap((m) => m.seeds);
  const built = methods.map((m) =>
    known === undefined ? undefined : messageBytes(m.method.input, known),
  );
  return fc.nat(methods.length - 1).chain((index) => {
    const own = (methods[index] as RequestMethod).seeds;
    const structured = built[index];
    const bytes = fc.oneof(
      { weight: 4, arbitrary: bytesLike(own, 300) },
      { weight: 1, arbitrary: bytesLike(everySeed, 300) },
      { weight: 1, arbitrary: fc.constantFrom(...own) },
      {
        weight: structured === undefined ? 0 : 8,
        arbitrary: structured ?? fc.constant(new Uint8Array()),
      },
    );
    return fc.record({
      method: fc.constant(index),
      messages: fc.array(bytes, { minLength: 1, maxLength: maxMessages }),
    });
  });
}

// knownValues are what the harness's handlers look things up by.
function knownValues(harness: ServerHarness): KnownValues {
  const { payload, classId, vendorId, deviceAuth, now } = corpus();
  const payloadId = toHex(sha256(payload));
  return {
    strings: [
      harness.deploymentId,
      harness.releaseId,
      harness.deviceId,
      payloadId,
      payloadId.toUpperCase(),
      classId,
      vendorId,
      'DIGEST_MISMATCH',
      'pde_0123456789',
    ],
    bytes: [
      payload,
      payload.subarray(0, 100),
      ...deviceAuth.flatMap((a) => [a.publicKey, a.signature]),
    ],
    integers: [BigInt(now.getTime()), BigInt(payload.length)],
  };
}

export const requestDecode = defineFamily({
  name: 'request-decode',
  defends:
    "the server's request deserializers decode or refuse with INVALID_ARGUMENT, never crash or hang",
  share: 150,
  testRuns: 3000,
  arbitrary: () => requestInput(decodeMethods(), 1),
  check: ({ method, messages: [bytes] }) => {
    const outcome = decode(decodeMethods()[method] as RequestMethod, bytes ?? new Uint8Array());
    return 'message' in outcome ? accepted() : outcome;
  },
});

interface HandlingState {
  readonly harness: ServerHarness;
  readonly methods: readonly RequestMethod[];
  // The trust root the server holds, as the oracle knows it.
  root: {
    body: Uint8Array;
    keys: Uint8Array[];
    threshold: number;
    releaseKeys: Uint8Array[];
    releaseThreshold: number;
    version: number;
  };
}

export const requestHandling = defineAsyncFamily({
  name: 'request-handling',
  defends:
    'every request handler answers or refuses with a closed code, and never accepts an unsigned release, root or device',
  share: 30,
  testRuns: 300,
  open: async (): Promise<HandlingState> => {
    const harness = await openServerHarness();
    const first = corpus().worlds[0];
    if (first === undefined) throw new Error('no world');
    return {
      harness,
      methods: requestMethods(harness),
      root: {
        body: first.rootSigned.body,
        keys: first.rootKeys.map((k) => k.publicKey),
        threshold: first.rootThreshold,
        releaseKeys: first.releaseKeys.map((k) => k.publicKey),
        releaseThreshold: first.releaseThreshold,
        version: 1,
      },
    };
  },
  close: (state) => state.harness.close(),
  arbitrary: (state) => requestInput(state.methods, 3, knownValues(state.harness)),
  check: async (state, input) => {
    const method = state.methods[input.method] as RequestMethod;
    const kind = method.method.methodKind;
    // Only a client stream reads more than one message.
    const sent = kind === 'client_streaming' ? input.messages : input.messages.slice(0, 1);
    const decoded: unknown[] = [];
    for (const bytes of sent) {
      const outcome = decode(method, bytes);
      if (!('message' in outcome)) return outcome;
      decoded.push(outcome.message);
    }
    const served = state.harness.handler(method.method);
    if (served === undefined) return accepted('no handler');
    return attemptAsync(
      async () => {
        if (kind === 'client_streaming') return await served.fn(messages(decoded), served.call);
        const result = served.fn(decoded[0], served.call);
        if (kind !== 'server_streaming') return await result;
        for await (const _ of result as AsyncIterable<unknown>);
        return undefined;
      },
      'any',
      () => acceptance(state, method, decoded[0]),
    );
  },
});

// acceptance checks what a handler accepted against the oracle.
function acceptance(state: HandlingState, method: RequestMethod, request: unknown): Outcome {
  const name = method.method.localName;
  if (method.method.parent.typeName === DeviceService.typeName && name === 'authenticate') {
    const r = request as {
      publicKey: Uint8Array;
      classId: string;
      timestampMs: bigint;
      signature: Uint8Array;
    };
    return verifies(
      deviceAuthInput(r.publicKey, r.classId, r.timestampMs),
      r.signature,
      r.publicKey,
    )
      ? accepted('authenticated')
      : falseAcceptance('authenticated a device whose signature does not verify');
  }
  if (name === 'publishRelease') {
    const manifest = (
      request as { manifest?: { body: Uint8Array; signatures: { sig: Uint8Array }[] } }
    ).manifest;
    const { root } = state;
    return manifest !== undefined &&
      meetsThreshold(
        'pendulum.v1.Manifest',
        manifest.body,
        manifest.signatures,
        root.releaseKeys,
        root.releaseThreshold,
      )
      ? accepted('published')
      : falseAcceptance('published a release not signed by a threshold of release keys');
  }
  if (name === 'putTrustRoot')
    return rootAcceptance(state, (request as { trustRoot?: unknown }).trustRoot);
  return accepted();
}

function rootAcceptance(state: HandlingState, trustRoot: unknown): Outcome {
  if (trustRoot === undefined) return falseAcceptance('stored a missing root');
  const signed = fromBinary(SignedSchema, toBinary(SignedSchema, trustRoot as never));
  const { root } = state;
  if (Buffer.from(signed.body).equals(Buffer.from(root.body))) return accepted('root already held');
  const next = fromBinary(TrustRootSchema, signed.body);
  const own = next.rootKeys.filter((k) => k.publicKey.length === 32).map((k) => k.publicKey);
  const type = 'pendulum.v1.TrustRoot';
  const ok =
    meetsThreshold(type, signed.body, signed.signatures, root.keys, root.threshold) &&
    meetsThreshold(type, signed.body, signed.signatures, own, next.rootThreshold) &&
    next.version === root.version + 1 &&
    next.vendorId === corpus().vendorId;
  if (!ok)
    return falseAcceptance(
      `stored root v${next.version} without a valid chain from v${root.version}`,
    );
  state.root = {
    body: signed.body,
    keys: own,
    threshold: next.rootThreshold,
    releaseKeys: next.releaseKeys.filter((k) => k.publicKey.length === 32).map((k) => k.publicKey),
    releaseThreshold: next.releaseThreshold,
    version: next.version,
  };
  return accepted('root rotated');
}
