// One run: a trivial tool (calc add, hosted on peer B as a stdio child) called
//  - "direct": on B's own Streamable HTTP front door, and
//  - "mesh":   on A's front door, routed A → B over libp2p (/p2p-mcp/mcp/1.0.0).
// Peers A and B are separate `p2p-mcp start` processes; the client is this process.
//   node bench/mesh-hop.bench.ts            (BENCH_CALLS, BENCH_SECONDS to change the run)
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import { z } from 'zod'
import { createMcpNode } from '../src/index.js'
import { calcServer, startPeer, until } from '../test/integration/peers.js'
import { pct, row, sideBySide } from './hop-measure.js'

const CALLS = Number(process.env.BENCH_CALLS ?? 2000)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5)
const CONCURRENCY = 64

const dir = await mkdtemp(join(tmpdir(), 'mcp-node-bench-'))
const a = await startPeer(dir, 'A', { logLevel: 'warn', heartbeatIntervalMs: 2_000 })
const b = await startPeer(dir, 'B', {
  logLevel: 'warn', heartbeatIntervalMs: 500, bootstrap: [a.multiaddrs[0]], upstreams: [{ name: 'calc', type: 'stdio', command: process.execPath, args: [calcServer] }],
})

async function client (url: string): Promise<Client> {
  const c = new Client({ name: 'bench', version: '1' })
  await c.connect(new StreamableHTTPClientTransport(new URL(url)))
  return c
}
const direct = await client(b.http!)
const mesh = await client(a.http!)
await until('calc on A', async () => ((await mesh.listTools()).tools.some((t) => t.name === 'calc__add') ? true : undefined), 30_000)

const call = async (c: Client, i: number): Promise<void> => {
  const r = await c.callTool({ name: 'calc__add', arguments: { a: i, b: 1 } })
  if ((r.structuredContent as { sum: number }).sum !== i + 1) throw new Error('wrong result')
}

const { d, m, tDirect, tMesh } = await sideBySide(async (i) => { await call(direct, i) }, async (i) => { await call(mesh, i) }, { calls: CALLS, seconds: SECONDS, concurrency: CONCURRENCY })

console.log(`Node ${process.version}, ${new Date().toISOString()}, ${CALLS} sequential calls per side, ${SECONDS} s at concurrency ${CONCURRENCY}`)
console.log('| path | p50 ms | p99 ms | calls/s at c=64 |')
console.log('| --- | ---: | ---: | ---: |')
console.log(row('direct: B\'s HTTP front door', d, tDirect))
console.log(row('mesh: A\'s HTTP front door → libp2p → B', m, tMesh))
console.log(`added p50 per hop: ${(pct(m, 0.5) - pct(d, 0.5)).toFixed(3)} ms; throughput mesh/direct: ${(tMesh / tDirect).toFixed(2)}×`)

await direct.close()
await mesh.close()
await Promise.all([a.kill('SIGTERM'), b.kill('SIGTERM')])

// The hop alone, without HTTP: two nodes in this process, an in-process tool on B, SDK clients
// connected in memory (node.connectClient()) to B itself and to A.
const nb = createMcpNode({ http: { enabled: false }, heartbeatIntervalMs: 2_000 })
const add = ({ a: x, b: y }: { a: number, b: number }): Promise<CallToolResult> =>
  Promise.resolve({ content: [{ type: 'text', text: String(x + y) }], structuredContent: { sum: x + y } })
nb.registerTool('add', { inputSchema: { a: z.number(), b: z.number() } }, add)
await nb.start()
const benchLog = { debug: () => {}, info: (...a: unknown[]) => { console.error('A', ...a) }, warn: (...a: unknown[]) => { console.error('A', ...a) }, error: (...a: unknown[]) => { console.error('A', ...a) } }
const na = createMcpNode({ http: { enabled: false }, heartbeatIntervalMs: 2_000, bootstrap: [nb.multiaddrs[0]!] }, { logger: benchLog })
await na.start()
await na.waitForTool('local__add', { timeoutMs: 30_000 })
await nb.waitForTool('local__add', { timeoutMs: 30_000 })
const memDirect = await nb.connectClient()
const memMesh = await na.connectClient()
const callLocal = async (c: Client, i: number): Promise<void> => {
  const r = await c.callTool({ name: 'local__add', arguments: { a: i, b: 1 } }).catch((err: unknown) => {
    console.error(c === memDirect ? 'direct' : 'mesh', i, 'A', na.tools().map((t) => t.name), 'B', nb.tools().map((t) => t.name), nb.health().upstreams.find((u) => u.name === 'local'))
    throw err
  })
  if ((r.structuredContent as { sum: number }).sum !== i + 1) throw new Error('wrong result')
}
const { d: d2, m: m2, tDirect: t2d, tMesh: t2m } = await sideBySide(async (i) => { await callLocal(memDirect, i) }, async (i) => { await callLocal(memMesh, i) }, { calls: CALLS, seconds: SECONDS, concurrency: CONCURRENCY })
console.log('')
console.log('| path (no HTTP, both nodes in one process) | p50 ms | p99 ms | calls/s at c=64 |')
console.log('| --- | ---: | ---: | ---: |')
console.log(row('direct: in-memory client on B', d2, t2d))
console.log(row('mesh: in-memory client on A → libp2p → B', m2, t2m))
console.log(`added p50 per hop: ${(pct(m2, 0.5) - pct(d2, 0.5)).toFixed(3)} ms; throughput mesh/direct: ${(t2m / t2d).toFixed(2)}×`)
await memDirect.close()
await memMesh.close()
await na.stop()
await nb.stop()
await rm(dir, { recursive: true, force: true })
