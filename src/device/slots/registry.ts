// Slot backends by configured type: adding a backend is one entry here.
import { PendulumError } from '../../errors.js';
import { createRawSlot } from './raw.js';
import type { Slot, SlotName } from './slot.js';

// The configuration of each slot type, keyed by its `type`.
export interface SlotConfigs {
  raw: { readonly device: string };
}

export type SlotType = keyof SlotConfigs;
export type SlotConfig = { [K in SlotType]: { readonly type: K } & SlotConfigs[K] }[SlotType];

const factories: { readonly [K in SlotType]: (name: SlotName, config: SlotConfigs[K]) => Slot } = {
  raw: (name, config) => createRawSlot({ name, device: config.device }),
};

// slotTypes lists the slot types this build knows.
export const slotTypes = Object.keys(factories) as SlotType[];

// createSlot builds slot `name` from its configuration; an unknown type is
// CONFIG_INVALID, since configuration is read at run time.
export function createSlot(name: SlotName, config: SlotConfig): Slot {
  const type: string = config.type;
  if (!Object.hasOwn(factories, type)) {
    throw new PendulumError(
      'CONFIG_INVALID',
      `unknown slot type "${type}" (known: ${slotTypes.join(', ')})`,
      {
        context: { type },
      },
    );
  }
  const factory = factories[config.type] as (name: SlotName, config: SlotConfig) => Slot;
  return factory(name, config);
}
