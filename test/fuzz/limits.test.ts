// Size caps come before parsing and verifying, and device authentication
// verifies only what the device signed.
import { describe } from 'vitest';
import { deviceAuthForgery } from '../../fuzz/families/device-auth.js';
import { sizeCaps } from '../../fuzz/families/size-caps.js';
import { propertyTest } from './property.js';

describe('limits and device authentication', () => {
  propertyTest(sizeCaps);
  propertyTest(deviceAuthForgery);
});
