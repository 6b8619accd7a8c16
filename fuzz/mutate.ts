// Mutations of valid encodings: bit flips, byte writes, truncation, extension,
// insertion, deletion, repetition and splicing with another valid encoding.
// Each is plain data, so fast-check shrinks it and a report shows it.
import fc from 'fast-check';

export type ByteOp =
  | { readonly op: 'flip'; readonly at: number; readonly bit: number }
  | { readonly op: 'set'; readonly at: number; readonly value: number }
  | { readonly op: 'truncate'; readonly at: number }
  | { readonly op: 'append'; readonly bytes: Uint8Array }
  | { readonly op: 'insert'; readonly at: number; readonly bytes: Uint8Array }
  | { readonly op: 'delete'; readonly at: number; readonly count: number }
  | { readonly op: 'repeat'; readonly at: number; readonly count: number; readonly times: number }
  | { readonly op: 'splice'; readonly at: number; readonly donor: number; readonly from: number };

// Bytes that mean something to a protobuf reader: tags of fields 1-4 for each
// wire type, varint continuation, group start and end, the extremes.
const telling = [
  0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x08, 0x0a, 0x0b, 0x0c, 0x0d, 0x10, 0x12, 0x1a, 0x20, 0x22,
  0x7f, 0x80, 0x81, 0xff,
];

const byteValue = fc.oneof(fc.constantFrom(...telling), fc.integer({ min: 0, max: 255 }));

const someBytes = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 16 }),
  fc.array(byteValue, { minLength: 1, maxLength: 8 }).map((values) => new Uint8Array(values)),
);

// byteOp generates one mutation; `donors` is how many splice partners exist.
export function byteOp(donors: number): fc.Arbitrary<ByteOp> {
  const at = fc.nat();
  return fc.oneof(
    { weight: 4, arbitrary: fc.record({ op: fc.constant('flip' as const), at, bit: fc.nat(7) }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant('set' as const), at, value: byteValue }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('truncate' as const), at }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('append' as const), bytes: someBytes }) },
    {
      weight: 2,
      arbitrary: fc.record({ op: fc.constant('insert' as const), at, bytes: someBytes }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant('delete' as const),
        at,
        count: fc.integer({ min: 1, max: 16 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constant('repeat' as const),
        at,
        count: fc.integer({ min: 1, max: 16 }),
        times: fc.integer({ min: 1, max: 4 }),
      }),
    },
    {
      weight: donors > 0 ? 2 : 0,
      arbitrary: fc.record({
        op: fc.constant('splice' as const),
        at,
        donor: fc.nat(Math.max(0, donors - 1)),
        from: fc.nat(),
      }),
    },
  );
}

// byteOps is one to four mutations in a row.
export function byteOps(donors: number, maxLength = 4): fc.Arbitrary<ByteOp[]> {
  return fc.array(byteOp(donors), { minLength: 1, maxLength });
}

// applyByteOps returns a mutated copy of `bytes`; positions wrap around its length.
export function applyByteOps(
  bytes: Uint8Array,
  ops: readonly ByteOp[],
  donors: readonly Uint8Array[] = [],
): Uint8Array {
  let out = bytes;
  for (const op of ops) out = applyByteOp(out, op, donors);
  return out;
}

function applyByteOp(bytes: Uint8Array, op: ByteOp, donors: readonly Uint8Array[]): Uint8Array {
  const n = bytes.length;
  const pos = (at: number) => (n === 0 ? 0 : at % n);
  switch (op.op) {
    case 'flip':
    case 'set': {
      if (n === 0) return bytes;
      const out = bytes.slice();
      const i = pos(op.at);
      out[i] = op.op === 'flip' ? (out[i] ?? 0) ^ (1 << op.bit) : op.value;
      return out;
    }
    case 'truncate':
      return bytes.slice(0, op.at % (n + 1));
    case 'append':
      return concat(bytes, op.bytes);
    case 'insert': {
      const i = op.at % (n + 1);
      return concat(bytes.subarray(0, i), op.bytes, bytes.subarray(i));
    }
    case 'delete': {
      const i = pos(op.at);
      return concat(bytes.subarray(0, i), bytes.subarray(i + op.count));
    }
    case 'repeat': {
      const i = pos(op.at);
      const range = bytes.subarray(i, i + op.count);
      const copies = Array.from({ length: op.times }, () => range);
      return concat(
        bytes.subarray(0, i + range.length),
        ...copies,
        bytes.subarray(i + range.length),
      );
    }
    case 'splice': {
      const donor = donors[op.donor % Math.max(1, donors.length)] ?? new Uint8Array();
      const i = op.at % (n + 1);
      return concat(bytes.subarray(0, i), donor.subarray(op.from % (donor.length + 1)));
    }
  }
}

// concat joins byte arrays into a new one.
export function concat(...parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

// mutatedBytes picks one of `seeds` and mutates it; the other seeds are splice donors.
export function mutatedBytes(seeds: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  return fc
    .record({ seed: fc.nat(seeds.length - 1), ops: byteOps(seeds.length) })
    .map(({ seed, ops }) => applyByteOps(seeds[seed] ?? new Uint8Array(), ops, seeds));
}

// bytesLike is arbitrary bytes, or mostly a mutated seed: what a decoder is fed.
export function bytesLike(seeds: readonly Uint8Array[], maxLength = 512) {
  return fc.oneof(
    { weight: 1, arbitrary: fc.uint8Array({ maxLength }) },
    { weight: 4, arbitrary: mutatedBytes(seeds) },
  );
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// mutatedText mutates the UTF-8 of one of `seeds` (invalid sequences become
// U+FFFD, as a file read as UTF-8 would), or edits it as characters.
export function mutatedText(seeds: readonly string[]): fc.Arbitrary<string> {
  const asBytes = seeds.map((s) => encoder.encode(s));
  return fc.oneof(
    mutatedBytes(asBytes).map((bytes) => decoder.decode(bytes)),
    fc
      .record({
        seed: fc.nat(seeds.length - 1),
        at: fc.nat(),
        cut: fc.nat(24),
        insert: fc.oneof(
          fc.string({ maxLength: 8 }),
          fc.constantFrom(
            '"',
            '\\',
            '{',
            '}',
            '[',
            ']',
            ',',
            ':',
            'null',
            '1e999',
            '-0',
            '\\u0000',
          ),
          fc.jsonValue().map((v) => JSON.stringify(v)),
        ),
      })
      .map(({ seed, at, cut, insert }) => {
        const text = seeds[seed] ?? '';
        const i = at % (text.length + 1);
        return text.slice(0, i) + insert + text.slice(i + cut);
      }),
  );
}
