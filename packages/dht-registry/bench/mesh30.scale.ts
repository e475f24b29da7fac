/**
 * The 30-peer regression test of issue 18, a script beside `npm test` (30 peers heartbeating every
 * 500 ms in one process take about 35 s of CPU: over a minute on this shared 2-core machine):
 *
 *   pnpm --filter @p2p-mcp/dht-registry mesh30
 */
import { defineMeshSuite } from '../test/integration/mesh-suite.js'

defineMeshSuite(30)
