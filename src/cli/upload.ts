// Upload a bundle's payloads, with a progress bar when stdout is a terminal.
import { SingleBar } from 'cli-progress';
import { type OpenedBundle, readPart } from '../bundle/bundle.js';
import type { PublisherService } from '../gen/pendulum/v1/publisher_pb.js';
import type { Client } from '../rpc/types.js';
import { toHex } from '../trust/index.js';
import { print } from './common.js';

const chunkBytes = 1024 * 1024;

// uploadBundle streams every component's payload to the server, which checks size and digest.
export async function uploadBundle(
  client: Client<(typeof PublisherService)['method']>,
  bundle: OpenedBundle,
): Promise<void> {
  for (const [index, part] of bundle.parts.entries()) {
    const component = bundle.manifest.components[index];
    if (component === undefined) continue;
    const sha256 = toHex(component.sha256);
    const bar = process.stdout.isTTY
      ? new SingleBar({
          format: `  ${part.component} [{bar}] {percentage}% {value}/{total} bytes`,
          hideCursor: true,
        })
      : undefined;
    bar?.start(part.size, 0);
    let sent = 0;
    const requests = (async function* () {
      yield { part: { case: 'header' as const, value: { sha256, size: BigInt(part.size) } } };
      for await (const chunk of readPart(bundle, part, chunkBytes)) {
        sent += chunk.length;
        bar?.update(sent);
        yield { part: { case: 'chunk' as const, value: chunk } };
      }
    })();
    let response: Awaited<ReturnType<typeof client.uploadPayload>>;
    try {
      response = await client.uploadPayload(requests);
    } finally {
      bar?.stop();
    }
    print(
      `uploaded ${part.component}: ${response.size} bytes${response.created ? '' : ' (already on the server)'}`,
    );
  }
}
