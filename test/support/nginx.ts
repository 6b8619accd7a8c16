// nginx as the gRPC load balancer in front of server replicas, for tests: a
// private instance (config, logs, pid and temp files in a directory of its
// own) listening for plaintext HTTP/2 on a loopback port, grpc_pass to the
// replicas, and an access log that says which replica served each call.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { pause } from './until.js';

const strict = process.env.PENDULUM_TEST_STRICT === '1';
const missingPackage =
  'nginx not found; install the Debian package "nginx" (scripts/install-deps.sh does)';

// findNginx returns the nginx binary: on PATH, or in /usr/sbin, which a
// non-root PATH often leaves out.
export function findNginx(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin'];
  return dirs
    .filter((dir) => dir !== '')
    .map((dir) => join(dir, 'nginx'))
    .find((file) => existsSync(file));
}

// nginxSkipReason is why the tests that need nginx skip on this machine, or
// undefined when it is there. Under PENDULUM_TEST_STRICT=1 (CI) a missing
// nginx is an error instead, naming the package.
export function nginxSkipReason(): string | undefined {
  if (findNginx() !== undefined) return undefined;
  if (strict) throw new Error(`PENDULUM_TEST_STRICT=1 but ${missingPackage}`);
  const banner = '!'.repeat(78);
  console.warn(`\n${banner}\n! SKIPPING the replica tests: ${missingPackage}\n${banner}\n`);
  return missingPackage;
}

// One call as nginx's access log has it.
export interface ProxiedCall {
  // When nginx finished it, in ms since the epoch.
  readonly at: number;
  // The gRPC method path, e.g. /pendulum.v1.DeviceService/CheckIn.
  readonly path: string;
  // The HTTP status nginx sent: 200 for any gRPC reply, 502 when no replica answered.
  readonly status: number;
  // Every replica nginx tried, in order ("-" entries dropped).
  readonly upstreams: readonly string[];
  // The grpc-status trailer the last replica sent ('' when none came).
  readonly grpcStatus: string;
}

export interface Nginx {
  // host:port clients connect to.
  readonly address: string;
  readonly dir: string;
  // calls reads the access log so far.
  calls(): Promise<ProxiedCall[]>;
  stop(): Promise<void>;
}

export interface NginxOptions {
  // Where its config, logs, pid and temp files go (created if needed).
  readonly dir: string;
  // host:port of each replica.
  readonly upstreams: readonly string[];
}

// grpcProxyConfig is the nginx.conf of a test load balancer. Each call goes to
// one replica (round robin); a replica that refuses the connection is passed
// over for the next one, but a call already sent is never sent twice
// (grpc_next_upstream without non_idempotent: every gRPC call is a POST).
export function grpcProxyConfig(options: NginxOptions & { readonly listen: string }): string {
  const { dir: root } = options;
  const temp = (name: string) => join(root, 'temp', name);
  return `# pendulum test load balancer (test/support/nginx.ts)
daemon off;
# One process, no privilege drop: it runs as the test does, all files in ${root}.
master_process off;
worker_processes 1;
pid ${join(root, 'nginx.pid')};
error_log ${join(root, 'error.log')} info;
events { worker_connections 1024; }
http {
  log_format calls escape=json '{"at":"$msec","path":"$request_uri","status":"$status",'
    '"upstreams":"$upstream_addr","grpcStatus":"$upstream_trailer_grpc_status"}';
  access_log ${join(root, 'access.log')} calls;
  client_body_temp_path ${temp('body')};
  proxy_temp_path ${temp('proxy')};
  fastcgi_temp_path ${temp('fastcgi')};
  uwsgi_temp_path ${temp('uwsgi')};
  scgi_temp_path ${temp('scgi')};

  upstream pendulum {
${options.upstreams.map((address) => `    server ${address} max_fails=1 fail_timeout=10s;`).join('\n')}
    keepalive 16;
  }

  server {
    listen ${options.listen} http2;
    # Uploads are one client-streaming call; the server enforces max_payload.
    client_max_body_size 0;
    location / {
      grpc_pass grpc://pendulum;
      grpc_connect_timeout 2s;
      # Between two messages of a call, not for the whole Download stream.
      grpc_read_timeout 60s;
      grpc_send_timeout 60s;
      grpc_next_upstream error timeout;
      grpc_next_upstream_tries 2;
      grpc_next_upstream_timeout 10s;
    }
  }
}
`;
}

// startNginx starts nginx in front of the replicas, on a free loopback port
// (another one if something took it first).
export async function startNginx(options: NginxOptions): Promise<Nginx> {
  const nginx = findNginx();
  if (nginx === undefined) throw new Error(missingPackage);
  await mkdir(join(options.dir, 'temp'), { recursive: true });
  const conf = join(options.dir, 'nginx.conf');
  const errorLog = join(options.dir, 'error.log');
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const address = `127.0.0.1:${port}`;
    await writeFile(conf, grpcProxyConfig({ ...options, listen: address }));
    const child = spawn(nginx, ['-p', options.dir, '-c', conf, '-e', errorLog], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (data: Buffer) => {
      stderr += data.toString();
    });
    const exited = new Promise<number | string>((resolve) =>
      child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
    );
    const up = await Promise.race([accepts(port, 10_000), exited.then(() => false)]);
    if (up) return running(child, exited, address, options.dir);
    child.kill('SIGKILL');
    const log = `${stderr}${await readFile(errorLog, 'utf8').catch(() => '')}`;
    if (attempt >= 5 || !/Address already in use/.test(log))
      throw new Error(`nginx did not start (exit ${await exited}): ${log.trim()}`);
  }
}

function running(
  child: ChildProcess,
  exited: Promise<unknown>,
  address: string,
  root: string,
): Nginx {
  return {
    address,
    dir: root,
    async calls() {
      const text = await readFile(join(root, 'access.log'), 'utf8').catch(() => '');
      return text
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => {
          const raw = JSON.parse(line) as Record<string, string>;
          return {
            at: Math.round(Number(raw.at) * 1000),
            path: raw.path ?? '',
            status: Number(raw.status),
            upstreams: (raw.upstreams ?? '')
              .split(/[,:]\s+/)
              .map((entry) => entry.trim())
              .filter((entry) => entry !== '' && entry !== '-'),
            grpcStatus: raw.grpcStatus ?? '',
          };
        });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      // SIGQUIT: graceful shutdown; SIGKILL if it lingers.
      child.kill('SIGQUIT');
      const stopped = await Promise.race([exited.then(() => true), pause(5000).then(() => false)]);
      if (!stopped) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

// accepts tells whether a TCP connection to the port succeeds within `ms`.
async function accepts(port: number, ms: number): Promise<boolean> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await pause(50)) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return true;
  }
  return false;
}
