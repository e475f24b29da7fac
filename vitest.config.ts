import { defineConfig } from 'vitest/config'

// Unit and property tests run in parallel; integration tests (several real libp2p nodes or
// processes) run one file at a time so that two cores are not oversubscribed.
export default defineConfig({
  test: {
    setupFiles: ['./packages/testkit/src/fast-check-seed.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts'],
          exclude: ['packages/*/test/integration/**', '**/node_modules/**'],
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['packages/*/test/integration/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
})
