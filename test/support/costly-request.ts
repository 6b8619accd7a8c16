// A request that is cheap to send and dear to decode, to show a server does
// not decode before it knows who is calling.

// costlyCheckIn is a CheckInRequest of about `bytes` whose inventory is all
// one-letter entries: the most work per byte for a protobuf decoder.
export function costlyCheckIn(bytes: number): Buffer {
  const entries: Buffer[] = [];
  let size = 0;
  for (let i = 0; size < bytes - 64; i++) {
    const key = Buffer.from(`k${i}`);
    // DeviceStatus.inventory (field 6) entry: key (field 1), value "v" (field 2).
    const entry = Buffer.concat([
      Buffer.from([0x0a, key.length]),
      key,
      Buffer.from([0x12, 1, 0x76]),
    ]);
    entries.push(Buffer.from([0x32, entry.length]), entry);
    size += entry.length + 2;
  }
  const status = Buffer.concat(entries);
  // CheckInRequest.status (field 1).
  return Buffer.concat([Buffer.from([0x0a]), varint(status.length), status]);
}

function varint(value: number): Buffer {
  const out: number[] = [];
  for (let v = value; ; v = Math.floor(v / 128)) {
    if (v < 128) {
      out.push(v);
      return Buffer.from(out);
    }
    out.push((v % 128) | 0x80);
  }
}
