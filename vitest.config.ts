import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Interop tests spawn ffmpeg and servers; two cores do not profit from more forks.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
