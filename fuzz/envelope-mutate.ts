// Mutations of a signed envelope as a forger would try them: alter the body or
// a signature, re-file a signature under another key id, add signatures at
// hand, duplicate or drop some, swap in another document's body; and then,
// sometimes, damage the encoded bytes too.
import { create } from '@bufbuild/protobuf';
import fc from 'fast-check';
import {
  type Signature,
  SignatureSchema,
  type Signed,
} from '../src/gen/pendulum/v1/manifest_pb.js';
import { createSigned, encodeSigned } from '../src/trust/envelope.js';
import type { Seed } from './corpus.js';
import { applyByteOps, type ByteOp, byteOps } from './mutate.js';

export type KeyIdEdit =
  | { readonly kind: 'other'; readonly pick: number }
  | { readonly kind: 'upper' }
  | { readonly kind: 'cut'; readonly at: number }
  | { readonly kind: 'text'; readonly value: string };

export type EnvelopeOp =
  | { readonly op: 'body'; readonly ops: ByteOp[] }
  | { readonly op: 'swap-body'; readonly donor: number }
  | { readonly op: 'sig'; readonly index: number; readonly ops: ByteOp[] }
  | { readonly op: 'key-id'; readonly index: number; readonly edit: KeyIdEdit }
  | { readonly op: 'add'; readonly pick: number }
  | { readonly op: 'duplicate'; readonly index: number }
  | { readonly op: 'remove'; readonly index: number }
  | { readonly op: 'keep-only'; readonly index: number }
  | { readonly op: 'remove-all' }
  | { readonly op: 'reverse' };

export interface EnvelopeMutation {
  readonly seed: number;
  readonly ops: readonly EnvelopeOp[];
  // Damage to the encoded envelope after the structural changes, if any.
  readonly wire: readonly ByteOp[];
}

const index = fc.nat(63);

function envelopeOp(donors: number): fc.Arbitrary<EnvelopeOp> {
  const keyIdEdit: fc.Arbitrary<KeyIdEdit> = fc.oneof(
    fc.record({ kind: fc.constant('other' as const), pick: fc.nat() }),
    fc.record({ kind: fc.constant('upper' as const) }),
    fc.record({ kind: fc.constant('cut' as const), at: fc.nat(64) }),
    fc.record({ kind: fc.constant('text' as const), value: fc.string({ maxLength: 70 }) }),
  );
  return fc.oneof(
    { weight: 4, arbitrary: fc.record({ op: fc.constant('body' as const), ops: byteOps(donors) }) },
    {
      weight: 1,
      arbitrary: fc.record({ op: fc.constant('swap-body' as const), donor: fc.nat() }),
    },
    {
      weight: 4,
      arbitrary: fc.record({ op: fc.constant('sig' as const), index, ops: byteOps(0, 2) }),
    },
    {
      weight: 2,
      arbitrary: fc.record({ op: fc.constant('key-id' as const), index, edit: keyIdEdit }),
    },
    { weight: 4, arbitrary: fc.record({ op: fc.constant('add' as const), pick: fc.nat() }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('duplicate' as const), index }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant('remove' as const), index }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('keep-only' as const), index }) },
    { weight: 1, arbitrary: fc.constant({ op: 'remove-all' as const }) },
    { weight: 1, arbitrary: fc.constant({ op: 'reverse' as const }) },
  );
}

// envelopeMutation picks one of `seeds` and one to four changes to it.
export function envelopeMutation(
  seeds: readonly Seed[],
  donors: readonly Uint8Array[],
): fc.Arbitrary<EnvelopeMutation> {
  return fc.record({
    seed: fc.nat(seeds.length - 1),
    ops: fc.array(envelopeOp(donors.length), { minLength: 1, maxLength: 4 }),
    wire: fc.oneof(
      { weight: 4, arbitrary: fc.constant([]) },
      { weight: 1, arbitrary: byteOps(0, 2) },
    ),
  });
}

// applyEnvelopeMutation returns the mutated envelope's bytes.
export function applyEnvelopeMutation(
  mutation: EnvelopeMutation,
  seeds: readonly Seed[],
  donors: readonly Uint8Array[],
): Uint8Array {
  const seed = seeds[mutation.seed] as Seed;
  let signed = seed.signed;
  for (const op of mutation.ops) signed = applyOp(signed, op, seed, donors);
  return applyByteOps(encodeSigned(signed), mutation.wire);
}

function applyOp(signed: Signed, op: EnvelopeOp, seed: Seed, donors: readonly Uint8Array[]) {
  const sigs = signed.signatures;
  const at = (i: number) => (sigs.length === 0 ? -1 : i % sigs.length);
  const withSigs = (next: Signature[]) => createSigned(signed.body, next);
  const replace = (i: number, next: Signature) =>
    withSigs(sigs.map((s, j) => (j === i ? next : s)));
  switch (op.op) {
    case 'body':
      return createSigned(applyByteOps(signed.body, op.ops, donors), [...sigs]);
    case 'swap-body':
      return createSigned(donors[op.donor % donors.length] ?? signed.body, [...sigs]);
    case 'sig': {
      const i = at(op.index);
      const s = sigs[i];
      if (s === undefined) return signed;
      return replace(
        i,
        create(SignatureSchema, { keyId: s.keyId, sig: applyByteOps(s.sig, op.ops) }),
      );
    }
    case 'key-id': {
      const i = at(op.index);
      const s = sigs[i];
      if (s === undefined) return signed;
      return replace(
        i,
        create(SignatureSchema, { keyId: editKeyId(s.keyId, op.edit, seed), sig: s.sig }),
      );
    }
    case 'add': {
      const extra = seed.extras[op.pick % seed.extras.length];
      return extra === undefined ? signed : withSigs([...sigs, extra]);
    }
    case 'duplicate': {
      const s = sigs[at(op.index)];
      return s === undefined ? signed : withSigs([...sigs, s]);
    }
    case 'remove':
      return withSigs(sigs.filter((_, j) => j !== at(op.index)));
    case 'keep-only':
      return withSigs(sigs.filter((_, j) => j === at(op.index)));
    case 'remove-all':
      return withSigs([]);
    case 'reverse':
      return withSigs([...sigs].reverse());
  }
}

function editKeyId(keyId: string, edit: KeyIdEdit, seed: Seed): string {
  switch (edit.kind) {
    case 'other':
      return seed.extras[edit.pick % seed.extras.length]?.keyId ?? keyId;
    case 'upper':
      return keyId.toUpperCase();
    case 'cut':
      return keyId.slice(0, edit.at);
    case 'text':
      return edit.value;
  }
}
