// The checksum-protected U-Boot environment, byte for byte as U-Boot's
// `env export -c` writes it and `env import -c` checks it (cmd/nvedit.c,
// lib/hashtable.c hexport_r): a little-endian CRC-32 of the data area, then
// `name=value\0` pairs sorted by name, one more `\0`, and 0x00 padding to the
// environment size. Written here from scratch, so that tests can play U-Boot
// against the real libubootenv tools.
import { readFile, writeFile } from 'node:fs/promises';
import type { Store, UBootVars } from './boot-firmware.js';

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

// crc32 is the CRC-32 (IEEE 802.3, as zlib and U-Boot compute it) of `bytes`.
export function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = (crcTable[(crc ^ byte) & 0xff] ?? 0) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

// formatUBootEnv is the image `env export -c -s size` makes of `vars`.
export function formatUBootEnv(vars: Readonly<Record<string, string>>, size: number): Buffer {
  const image = Buffer.alloc(size);
  let at = 4;
  for (const name of Object.keys(vars).sort()) at += image.write(`${name}=${vars[name]}\0`, at);
  if (at >= size) throw new Error(`environment does not fit in ${size} bytes`);
  image.writeUInt32LE(crc32(image.subarray(4)), 0);
  return image;
}

// parseUBootEnv reads an image as `env import -c` does: a CRC mismatch is refused.
export function parseUBootEnv(image: Buffer): Record<string, string> {
  const stored = image.readUInt32LE(0);
  const computed = crc32(image.subarray(4));
  if (stored !== computed) {
    throw new Error(`bad CRC: stored ${stored.toString(16)}, computed ${computed.toString(16)}`);
  }
  const vars: Record<string, string> = {};
  const data = image.subarray(4);
  for (let at = 0; at < data.length && data[at] !== 0; ) {
    const end = data.indexOf(0, at);
    const pair = data.toString('utf8', at, end);
    const equals = pair.indexOf('=');
    vars[pair.slice(0, equals)] = pair.slice(equals + 1);
    at = end + 1;
  }
  return vars;
}

// uBootImageStore is an environment image file as U-Boot itself reads and
// saves it (env import -c / env export -c), for playing its boot script.
export function uBootImageStore(path: string, size: number): Store<UBootVars> {
  return {
    read: async () => parseUBootEnv(await readFile(path)),
    write: (vars) => writeFile(path, formatUBootEnv(vars, size)),
  };
}
