// Messages built field by field from their descriptor: any field left out or
// set to an edge value, known identifiers mixed in, and every Signed field
// filled with a forged envelope. Mutated bytes rarely decode; these always
// do, so they reach the handlers' own checks.
import {
  create,
  type DescField,
  type DescMessage,
  fromBinary,
  ScalarType,
  toBinary,
} from '@bufbuild/protobuf';
import fc from 'fast-check';
import { SignedSchema } from '../src/gen/pendulum/v1/manifest_pb.js';
import { corpus } from './corpus.js';
import { applyEnvelopeMutation, envelopeMutation } from './envelope-mutate.js';

// What handlers look values up by: ids, digests, classes, keys.
export interface KnownValues {
  readonly strings: readonly string[];
  readonly bytes: readonly Uint8Array[];
  readonly integers: readonly bigint[];
}

type Init = Record<string, unknown>;

// messageBytes generates encodings of `desc` built from random field values.
export function messageBytes(desc: DescMessage, known: KnownValues): fc.Arbitrary<Uint8Array> {
  return new Builder(known)
    .message(desc, 0)
    .map((init) => toBinary(desc, create(desc, init as never)));
}

class Builder {
  private readonly strings: fc.Arbitrary<string>;
  private readonly bytes: fc.Arbitrary<Uint8Array>;
  private readonly signed: fc.Arbitrary<unknown>;
  private readonly integers: readonly bigint[];

  constructor(known: KnownValues) {
    this.integers = known.integers;
    this.strings = fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(...known.strings, '') },
      { weight: 1, arbitrary: fc.string({ maxLength: 20, unit: 'grapheme' }) },
      {
        weight: 1,
        arbitrary: fc.constantFrom('x'.repeat(129), '../../etc/passwd', '\u0000', 'A'.repeat(64)),
      },
    );
    this.bytes = fc.oneof(
      fc.constantFrom(...known.bytes),
      fc.uint8Array({ maxLength: 80 }),
      fc.integer({ min: 0, max: 70 }).map((n) => new Uint8Array(n)),
    );
    const { manifestSeeds, rootSeeds, manifestBodies, rootBodies } = corpus();
    const seeds = [...manifestSeeds, ...rootSeeds];
    const donors = [...manifestBodies, ...rootBodies];
    this.signed = fc.oneof(
      fc.constantFrom(...seeds.map((s) => s.signed)),
      envelopeMutation(seeds, donors).map((m) => {
        try {
          return fromBinary(SignedSchema, applyEnvelopeMutation(m, seeds, donors));
        } catch {
          return seeds[m.seed]?.signed;
        }
      }),
    );
  }

  message(desc: DescMessage, depth: number): fc.Arbitrary<Init> {
    if (desc.typeName === SignedSchema.typeName) return this.signed as fc.Arbitrary<Init>;
    const model: Record<string, fc.Arbitrary<unknown>> = {};
    for (const field of desc.fields) {
      if (field.oneof !== undefined) continue;
      const value = this.field(field, depth);
      if (value !== undefined) model[field.localName] = value;
    }
    for (const oneof of desc.oneofs) {
      const cases = oneof.fields.flatMap((field) => {
        const value = this.single(field, depth);
        return value === undefined ? [] : [value.map((v) => ({ case: field.localName, value: v }))];
      });
      if (cases.length > 0) model[oneof.localName] = fc.oneof(...cases);
    }
    return fc.record(model, { requiredKeys: [] });
  }

  private field(field: DescField, depth: number): fc.Arbitrary<unknown> | undefined {
    switch (field.fieldKind) {
      case 'list': {
        const item =
          field.listKind === 'scalar'
            ? this.scalar(field.scalar)
            : field.listKind === 'enum'
              ? this.enumValue(field.enum.values.map((v) => v.number))
              : depth < 3
                ? this.message(field.message, depth + 1)
                : undefined;
        return item === undefined ? undefined : fc.array(item, { maxLength: 3 });
      }
      case 'map': {
        const value =
          field.mapKind === 'scalar'
            ? this.scalar(field.scalar)
            : field.mapKind === 'enum'
              ? this.enumValue(field.enum.values.map((v) => v.number))
              : depth < 3
                ? this.message(field.message, depth + 1)
                : undefined;
        if (value === undefined || field.mapKey !== ScalarType.STRING) return undefined;
        const key = fc.oneof(this.strings, fc.constantFrom('__proto__', 'constructor', 'toString'));
        return fc.array(fc.tuple(key, value), { maxLength: 3 }).map((entries) => {
          const map: Record<string, unknown> = Object.create(null);
          for (const [k, v] of entries) map[k] = v;
          return map;
        });
      }
      default:
        return this.single(field, depth);
    }
  }

  private single(field: DescField, depth: number): fc.Arbitrary<unknown> | undefined {
    if (field.fieldKind === 'scalar') return this.scalar(field.scalar);
    if (field.fieldKind === 'enum') return this.enumValue(field.enum.values.map((v) => v.number));
    if (field.fieldKind === 'message' && depth < 3) return this.message(field.message, depth + 1);
    return undefined;
  }

  private enumValue(numbers: number[]): fc.Arbitrary<number> {
    return fc.oneof(fc.constantFrom(...numbers), fc.integer({ min: -2, max: 40 }));
  }

  private scalar(type: ScalarType): fc.Arbitrary<unknown> {
    const int64 = fc.oneof(
      fc.constantFrom(
        0n,
        1n,
        -1n,
        6n,
        7n,
        4096n,
        2n ** 53n,
        2n ** 63n - 1n,
        -(2n ** 63n),
        ...this.integers,
      ),
      fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
    );
    const uint64 = fc.oneof(
      fc.constantFrom(0n, 1n, 1000n, 4096n, 4097n, 2n ** 53n, 2n ** 64n - 1n),
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    );
    switch (type) {
      case ScalarType.STRING:
        return this.strings;
      case ScalarType.BYTES:
        return this.bytes;
      case ScalarType.BOOL:
        return fc.boolean();
      case ScalarType.DOUBLE:
      case ScalarType.FLOAT:
        return fc.double({ noNaN: false });
      case ScalarType.INT64:
      case ScalarType.SINT64:
      case ScalarType.SFIXED64:
        return int64;
      case ScalarType.UINT64:
      case ScalarType.FIXED64:
        return uint64;
      case ScalarType.UINT32:
      case ScalarType.FIXED32:
        return fc.oneof(
          fc.constantFrom(0, 1, 2, 9, 2 ** 32 - 1),
          fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        );
      default:
        return fc.oneof(fc.constantFrom(0, 1, -1, 2, 9, 2 ** 31 - 1, -(2 ** 31)), fc.integer());
    }
  }
}
