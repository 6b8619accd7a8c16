// The slot port: a place a release is written to. One file per backend.

export const slotNames = ['A', 'B'] as const;
export type SlotName = (typeof slotNames)[number];

// otherSlot is the slot that is not `slot`.
export function otherSlot(slot: SlotName): SlotName {
  return slot === 'A' ? 'B' : 'A';
}

// isSlotName is the type guard for SlotName.
export function isSlotName(value: unknown): value is SlotName {
  return value === 'A' || value === 'B';
}

export interface SlotWriter {
  // Bytes written so far, counted from the start of the slot.
  readonly position: number;
  // write appends bytes at `position`.
  write(chunk: Uint8Array): Promise<void>;
  // sync makes everything written so far durable.
  sync(): Promise<void>;
  // close syncs and releases the slot.
  close(): Promise<void>;
}

export interface Slot {
  readonly name: SlotName;
  // The backend kind, e.g. "raw".
  readonly kind: string;
  // What the slot is, for people: a device node or file path.
  readonly location: string;
  // capacity is how many bytes the slot holds.
  capacity(): Promise<number>;
  // openWriter starts writing at `offset`; it refuses (SLOT_ACTIVE) when this
  // slot is `booted` or is the same storage as it, or is mounted.
  openWriter(offset: number, booted: Slot, signal: AbortSignal): Promise<SlotWriter>;
  // read yields `length` bytes of the slot from `offset`.
  read(offset: number, length: number, signal: AbortSignal): AsyncIterable<Uint8Array>;
  // digest reads the first `length` bytes back and returns their hex SHA-256;
  // `onProgress` gets the bytes read so far.
  digest(length: number, signal: AbortSignal, onProgress?: (done: number) => void): Promise<string>;
}
