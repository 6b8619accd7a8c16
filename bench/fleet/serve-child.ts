// The child's side of a benchmark server process (child.ts is the
// parent's): listen on a loopback port, say where on stdout, and stop on
// SIGTERM or when the parent goes (stdin ends).
import { type Server, ServerCredentials } from '@grpc/grpc-js';

// serveOnLoopback binds `server` to a free loopback port and prints {"address"}.
export async function serveOnLoopback(server: Server): Promise<void> {
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  const stop = () => {
    server.forceShutdown();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.stdin.once('end', stop).resume();
  process.stdout.write(`${JSON.stringify({ address: `127.0.0.1:${port}` })}\n`);
}

// runChild runs `main` when this process was started as `script`, and exits
// 1 saying why if it fails.
export function runChild(script: string, what: string, main: () => Promise<void>): void {
  if (!process.argv[1]?.endsWith(script)) return;
  main().catch((error: unknown) => {
    process.stderr.write(`${what} failed: ${String(error)}\n`);
    process.exit(1);
  });
}
