// Stand-in root filesystem images: a header the health check reads, then
// deterministic noise, so the same (version, size) is always the same bytes.
import { createHash } from 'node:crypto';

// makeImage builds an image whose first 64 bytes say its version and health.
export function makeImage(
  version: string,
  options: { healthy?: boolean; bytes?: number } = {},
): Buffer {
  const bytes = options.bytes ?? 3 * 1024 * 1024 + 12_345;
  const image = Buffer.alloc(bytes);
  image.fill(' ', 0, 64);
  image.write(
    `pendulum-test-image version=${version} healthy=${options.healthy === false ? 'no' : 'yes'}\n`,
  );
  let block = createHash('sha256').update(version).digest();
  for (let at = 64; at < bytes; at += block.length) {
    block = createHash('sha256').update(block).digest();
    block.copy(image, at, 0, Math.min(block.length, bytes - at));
  }
  return image;
}

// sha256Hex is the hex SHA-256 of bytes.
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

// The health check every test device runs: the booted image must say healthy=yes.
export const imageSelfTest = {
  name: 'image self-test',
  command: ['sh', '-c', 'head -c 64 "$PENDULUM_SLOT_DEVICE" | grep -q healthy=yes'],
  timeout: '10s',
};
