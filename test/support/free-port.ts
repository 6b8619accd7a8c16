// A loopback TCP port nobody listens on, for a server to start on or for a
// client to find closed.
import { createServer } from 'node:net';

// freePort asks the OS for a port on 127.0.0.1 and gives it back at once.
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no TCP port');
  return address.port;
}
