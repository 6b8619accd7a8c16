// A flood of unauthenticated calls from a process of its own, as an attacker
// elsewhere would send them: CONNECTIONS grpc-js channels, each on a TCP
// connection of its own, each keeping IN_FLIGHT calls going (Download and
// CheckIn in turn, with no token, a token of another shape or a forged one).
// It prints "flooding" once the first calls are out, floods until it has sent
// MINIMUM calls and read "stop" on stdin, then prints one JSON line: what it
// sent and what came back.
// Usage: node flooder.mjs ADDRESS CONNECTIONS IN_FLIGHT MINIMUM DOWNLOAD_HEX CHECKIN_HEX
import { randomBytes } from 'node:crypto';
import grpc from '@grpc/grpc-js';

const [address, connections, inFlight, minimum, downloadHex, checkInHex] = process.argv.slice(2);
const download = Buffer.from(downloadHex, 'hex');
const checkIn = Buffer.from(checkInHex, 'hex');
const identity = (bytes) => bytes;

let stop = false;
process.stdin.on('data', (data) => {
  if (data.toString().includes('stop')) stop = true;
});

const result = { sent: 0, forged: 0, messages: 0, codes: {} };
const ended = (code) => {
  result.codes[code] = (result.codes[code] ?? 0) + 1;
};

// call makes the next call on `channel` and resolves when it has ended.
function call(channel) {
  const n = result.sent++;
  const metadata = new grpc.Metadata();
  if (n % 3 === 1) metadata.set('authorization', 'Bearer let-me-in');
  if (n % 3 === 2) {
    metadata.set('authorization', `Bearer pdd_${randomBytes(32).toString('base64url')}`);
    result.forged++;
  }
  const options = { deadline: Date.now() + 30_000 };
  return new Promise((resolve) => {
    if (n % 2 === 0) {
      const path = '/pendulum.v1.DeviceService/Download';
      const stream = channel.makeServerStreamRequest(
        path,
        identity,
        identity,
        download,
        metadata,
        options,
      );
      stream.on('data', () => result.messages++);
      stream.on('error', () => undefined);
      stream.on('status', (status) => resolve(ended(status.code)));
    } else {
      const path = '/pendulum.v1.DeviceService/CheckIn';
      channel.makeUnaryRequest(path, identity, identity, checkIn, metadata, options, (error) => {
        if (!error) result.messages++;
        resolve(ended(error?.code ?? 0));
      });
    }
  });
}

const channels = Array.from(
  { length: Number(connections) },
  () =>
    new grpc.Client(address, grpc.credentials.createInsecure(), {
      'grpc.use_local_subchannel_pool': 1,
    }),
);
const lane = async (channel) => {
  while (result.sent < Number(minimum) || !stop) await call(channel);
};
const started = performance.now();
const lanes = channels.flatMap((channel) =>
  Array.from({ length: Number(inFlight) }, () => lane(channel)),
);
process.stdout.write('flooding\n');
await Promise.all(lanes);
result.ms = performance.now() - started;
result.maxRssBytes = process.resourceUsage().maxRSS * 1024;
for (const channel of channels) channel.close();
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
