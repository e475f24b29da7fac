import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

// The scale benchmark runs many real libp2p nodes for minutes: not part of `npm test`.
// Run it with `pnpm --filter @p2p-mcp/dht-registry scale` (SCALE_N=10,25,50,100 by default).
export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    include: ['bench/**/*.scale.ts'],
    testTimeout: 3_600_000,
    hookTimeout: 600_000,
    fileParallelism: false,
  },
})
