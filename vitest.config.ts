import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The QEMU hardware-in-the-loop suite runs on its own: npm run test:hil.
    exclude: ['test/hil/**', 'node_modules/**'],
    // Builds dist/ for the CLI tests; starts the PostgreSQL server the store tests use.
    globalSetup: ['test/support/global-setup.ts', 'test/support/postgres-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
