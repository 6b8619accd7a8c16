// Client streaming through the bridge (PublisherService.UploadPayload): every
// chunk in order, errors both ways, and cancellation, against a real server.
import { createHash } from 'node:crypto';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { UploadPayloadRequestSchema } from '../../src/gen/pendulum/v1/publisher_pb.js';
import { deferred, failure, pause, within } from './harness.js';
import { type Bridge, startBridge } from './services.js';

// One UploadPayload request message: a header or a chunk.
type Part = MessageInitShape<typeof UploadPayloadRequestSchema>;

let bridge: Bridge;

beforeAll(async () => {
  bridge = await startBridge();
});

afterEach(() => {
  bridge.recorder.reset();
  bridge.closeChannels();
});

afterAll(async () => {
  await bridge.close();
});

describe('client streaming', () => {
  function payload(chunks: number, size: number): Uint8Array[] {
    return Array.from({ length: chunks }, (_, i) =>
      new Uint8Array(size).map((_, j) => (i * 31 + j) & 0xff),
    );
  }

  async function* upload(chunks: readonly Uint8Array[], sha256?: string): AsyncGenerator<Part> {
    const hash = createHash('sha256');
    for (const chunk of chunks) hash.update(chunk);
    const size = chunks.reduce((n, c) => n + c.length, 0);
    yield {
      part: {
        case: 'header',
        value: {
          sha256: sha256 ?? hash.digest('hex'),
          size: BigInt(size),
        },
      },
    };
    for (const chunk of chunks)
      yield {
        part: { case: 'chunk', value: chunk },
      };
  }

  it('delivers every chunk in order and returns the response', async () => {
    const chunks = payload(40, 256 * 1024);
    const hash = createHash('sha256');
    for (const chunk of chunks) hash.update(chunk);
    const response = await bridge.publisherClient().uploadPayload(upload(chunks));
    expect(response.payloadId).toBe(hash.digest('hex'));
    expect(response.size).toBe(BigInt(40 * 256 * 1024));
    expect(response.created).toBe(true);
  });

  it('delivers a handler error with its code', async () => {
    const error = await failure(
      bridge.publisherClient().uploadPayload(upload(payload(2, 10), 'ab'.repeat(32))),
    );
    expect(error.code).toBe('DIGEST_MISMATCH');
  });

  it('rejects the call with the error the request stream threw, and cancels the server', async () => {
    const boom = new Error('disk read failed');
    async function* failing() {
      yield* upload(payload(1, 10), 'half-read');
      await bridge.recorder.started('half-read').promise;
      throw boom;
    }
    await expect(bridge.publisherClient().uploadPayload(failing())).rejects.toBe(boom);
    await within(bridge.recorder.aborted('half-read').promise, 5000, "the server's ctx.signal");
    await within(bridge.recorder.finished('half-read').promise, 5000, 'the handler to return');
    expect(bridge.recorder.internalErrors).toEqual([]);
  });

  it('stops reading the request stream when the server refuses the upload early', async () => {
    const closed = deferred();
    let sent = 0;
    async function* endless(): AsyncGenerator<Part> {
      try {
        yield {
          part: {
            case: 'header',
            value: { sha256: 'reject-early', size: 0n },
          },
        };
        for (;;) {
          sent++;
          yield {
            part: { case: 'chunk', value: new Uint8Array(64 * 1024) },
          };
        }
      } finally {
        closed.resolve();
      }
    }
    const error = await failure(
      within(bridge.publisherClient().uploadPayload(endless()), 10_000, 'the upload to fail'),
    );
    expect(error.code).toBe('PERMISSION_DENIED');
    await within(closed.promise, 5000, 'the request stream to be closed');
    const after = sent;
    await pause(100);
    expect(sent).toBe(after);
  });

  it('cancels the server when the client aborts an upload, without reporting a server bug', async () => {
    const controller = new AbortController();
    const chunks = payload(4, 1024);
    async function* slow(): AsyncGenerator<Part> {
      yield* upload(chunks, 'slow');
      await new Promise((resolve) =>
        controller.signal.addEventListener('abort', resolve, { once: true }),
      );
    }
    const call = bridge.publisherClient().uploadPayload(slow(), { signal: controller.signal });
    await within(bridge.recorder.started('slow').promise, 5000, 'the handler to start');
    controller.abort();
    expect((await failure(within(call, 5000, 'the upload to be cancelled'))).code).toBe(
      'CANCELLED',
    );
    await within(bridge.recorder.aborted('slow').promise, 5000, "the server's ctx.signal");
    await within(bridge.recorder.finished('slow').promise, 5000, 'the handler to return');
    await pause(50);
    expect(bridge.recorder.internalErrors).toEqual([]);
  });

  it('refuses an unauthenticated upload before the handler runs', async () => {
    const error = await failure(
      bridge.publisherClient('stolen').uploadPayload(upload(payload(1, 10))),
    );
    expect(error.code).toBe('UNAUTHENTICATED');
    expect(bridge.recorder.handlerCalls).toBe(0);
  });
});
