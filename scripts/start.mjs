// `npm start` runs the mesh peer. Until @p2p-mcp/mcp-node exists there is nothing to start.
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = dirname(dirname(fileURLToPath(import.meta.url)))
const cli = join(root, 'packages', 'mcp-node', 'dist', 'cli.js')
if (!existsSync(cli)) {
  process.stderr.write('npm start: the mesh peer (@p2p-mcp/mcp-node) is not built yet; it has its own issue. ' +
    'What exists today: `npm test` runs the suite, `npm run bench` the benchmarks.\n')
  process.exit(1)
}
await import(cli)
