import { defineConfig } from 'tsup'

export default defineConfig({
  entry: { index: 'src/index.ts', 'sim/index': 'src/sim/index.ts', 'check/index': 'src/check/index.ts', 'node/index': 'src/node/index.ts', 'libp2p/index': 'src/libp2p/index.ts' },
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node22',
  tsconfig: 'tsconfig.build.json',
})
