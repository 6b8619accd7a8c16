import { describe, expect, it } from 'vitest';
import { createSlot, type SlotConfig, slotTypes } from '../../../src/device/slots/registry.js';
import { isPendulumError } from '../../../src/errors.js';

describe('slot registry', () => {
  it('builds a raw slot from its configuration', () => {
    const slot = createSlot('B', { type: 'raw', device: '/dev/mmcblk0p3' });
    expect(slot).toMatchObject({ name: 'B', kind: 'raw', location: '/dev/mmcblk0p3' });
  });

  it('names an unknown slot type and the known ones', () => {
    let error: unknown;
    try {
      createSlot('A', { type: 'btrfs', device: '/data' } as unknown as SlotConfig);
    } catch (e) {
      error = e;
    }
    expect(isPendulumError(error, 'CONFIG_INVALID')).toBe(true);
    expect((error as Error).message).toBe(
      `unknown slot type "btrfs" (known: ${slotTypes.join(', ')})`,
    );
    expect(slotTypes).toContain('raw');
  });

  it('does not take inherited object properties for slot types', () => {
    expect(() =>
      createSlot('A', { type: 'toString', device: 'x' } as unknown as SlotConfig),
    ).toThrow(/unknown slot type "toString"/);
  });
});
