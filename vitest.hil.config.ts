import { defineConfig } from 'vitest/config';

// The QEMU hardware-in-the-loop suite (npm run test:hil): slow, serial, and
// with boots whose limits are set per scenario.
export default defineConfig({
  test: {
    include: ['test/hil/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 900_000,
    hookTimeout: 900_000,
    pool: 'forks',
    reporters: ['verbose'],
  },
});
