// A raw HTTP/2 client over one TCP connection, to play a client no gRPC
// library would be: it opens request streams with HEADERS only and never
// sends a body, and acknowledges the server's SETTINGS only when told to, so
// it can open more streams than the server allows.
import { connect } from 'node:net';

const frameType = { data: 0, headers: 1, rstStream: 3, settings: 4, goaway: 7 } as const;
const flags = { ack: 0x1, endHeaders: 0x4 } as const;

// HTTP/2 error codes (RFC 9113 section 7) that the tests look for.
export const h2 = { protocolError: 2, refusedStream: 7, settingsMaxConcurrentStreams: 3 } as const;

export interface RawConnection {
  // The server's first SETTINGS, by identifier.
  readonly serverSettings: ReadonlyMap<number, number>;
  // RST_STREAM frames received: stream id to error code.
  readonly resets: ReadonlyMap<number, number>;
  // Streams the server answered with HEADERS.
  readonly answered: ReadonlySet<number>;
  // The GOAWAY received, if any.
  goaway(): { lastStream: number; code: number } | undefined;
  closed(): boolean;
  // open sends HEADERS (and `headers`) for `count` new POST streams to
  // `path`, and nothing after them; returns their ids.
  open(path: string, count: number, headers?: Readonly<Record<string, string>>): number[];
  close(): void;
}

// rawConnect opens a connection to 127.0.0.1:`port` and waits for the
// server's SETTINGS; with `ackSettings` it acknowledges them at once.
export async function rawConnect(
  port: number,
  options: { ackSettings: boolean },
): Promise<RawConnection> {
  const socket = connect(port, '127.0.0.1');
  const serverSettings = new Map<number, number>();
  const resets = new Map<number, number>();
  const answered = new Set<number>();
  let goaway: { lastStream: number; code: number } | undefined;
  let closed = false;
  let nextStream = 1;
  let gotSettings: () => void = () => undefined;
  const settings = new Promise<void>((resolve) => {
    gotSettings = resolve;
  });
  let pending = Buffer.alloc(0);
  socket.on('data', (data: Buffer) => {
    pending = Buffer.concat([pending, data]);
    while (pending.length >= 9) {
      const length = pending.readUIntBE(0, 3);
      if (pending.length < 9 + length) break;
      const type = pending.readUInt8(3);
      const flagBits = pending.readUInt8(4);
      const stream = pending.readUInt32BE(5) & 0x7fffffff;
      const payload = pending.subarray(9, 9 + length);
      pending = pending.subarray(9 + length);
      if (type === frameType.settings && (flagBits & flags.ack) === 0) {
        for (let at = 0; at + 6 <= payload.length; at += 6)
          serverSettings.set(payload.readUInt16BE(at), payload.readUInt32BE(at + 2));
        if (options.ackSettings) socket.write(frame(frameType.settings, flags.ack, 0));
        gotSettings();
      } else if (type === frameType.rstStream) resets.set(stream, payload.readUInt32BE(0));
      else if (type === frameType.headers) answered.add(stream);
      else if (type === frameType.goaway)
        goaway = {
          lastStream: payload.readUInt32BE(0) & 0x7fffffff,
          code: payload.readUInt32BE(4),
        };
    }
  });
  socket.on('error', () => undefined);
  socket.on('close', () => {
    closed = true;
    gotSettings();
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
  socket.write(frame(frameType.settings, 0, 0));
  await settings;
  return {
    serverSettings,
    resets,
    answered,
    goaway: () => goaway,
    closed: () => closed,
    open(path, count, headers = {}) {
      const block = Buffer.concat(
        [
          [':method', 'POST'],
          [':scheme', 'http'],
          [':path', path],
          [':authority', `127.0.0.1:${port}`],
          ['content-type', 'application/grpc'],
          ['te', 'trailers'],
          ...Object.entries(headers),
        ].map(([name, value]) => literal(name ?? '', value ?? '')),
      );
      const ids: number[] = [];
      for (let i = 0; i < count; i++, nextStream += 2) {
        socket.write(frame(frameType.headers, flags.endHeaders, nextStream, block));
        ids.push(nextStream);
      }
      return ids;
    },
    close: () => socket.destroy(),
  };
}

function frame(type: number, flagBits: number, stream: number, payload = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header.writeUInt8(type, 3);
  header.writeUInt8(flagBits, 4);
  header.writeUInt32BE(stream, 5);
  return Buffer.concat([header, payload]);
}

// literal is an HPACK "literal header field without indexing, new name",
// without Huffman coding (RFC 7541 section 6.2.2); names and values under 127 bytes.
function literal(name: string, value: string): Buffer {
  const n = Buffer.from(name);
  const v = Buffer.from(value);
  if (n.length > 126 || v.length > 126) throw new Error(`header ${name} is too long for literal()`);
  return Buffer.concat([Buffer.from([0x00, n.length]), n, Buffer.from([v.length]), v]);
}
