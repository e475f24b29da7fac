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

async function latencies (c: Client, n: number): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < n; i++) {
    const t = performance.now()
    await call(c, i)
    out.push(performance.now() - t)
  }
  return out
}

async function throughput (c: Client, seconds: number): Promise<number> {
  let done = 0
  const end = performance.now() + seconds * 1000
  await Promise.all(Array.from({ length: CONCURRENCY }, async (_, w) => {
    while (performance.now() < end) { await call(c, w); done++ }
  }))
  return done / seconds
}

const pct = (xs: number[], p: number): number => { const s = [...xs].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(p * s.length))]! }

await latencies(direct, 200)
await latencies(mesh, 200)
// Alternate blocks so that drift on a shared machine hits both sides alike.
const d: number[] = []
const m: number[] = []
for (let block = 0; block < 4; block++) {
  d.push(...await latencies(direct, CALLS / 4))
  m.push(...await latencies(mesh, CALLS / 4))
}
const tDirect = await throughput(direct, SECONDS)
const tMesh = await throughput(mesh, SECONDS)

const row = (name: string, xs: number[], rps: number): string =>
  `| ${name} | ${pct(xs, 0.5).toFixed(3)} | ${pct(xs, 0.99).toFixed(3)} | ${rps.toFixed(0)} |`
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
const lat2 = async (c: Client, n: number): Promise<number[]> => {
  const out: number[] = []
  for (let i = 0; i < n; i++) { const t = performance.now(); await callLocal(c, i); out.push(performance.now() - t) }
  return out
}
const tp2 = async (c: Client, seconds: number): Promise<number> => {
  let done = 0
  const end = performance.now() + seconds * 1000
  await Promise.all(Array.from({ length: CONCURRENCY }, async (_, w) => { while (performance.now() < end) { await callLocal(c, w); done++ } }))
  return done / seconds
}
await lat2(memDirect, 200)
await lat2(memMesh, 200)
const d2: number[] = []
const m2: number[] = []
for (let block = 0; block < 4; block++) {
  d2.push(...await lat2(memDirect, CALLS / 4))
  m2.push(...await lat2(memMesh, CALLS / 4))
}
const t2d = await tp2(memDirect, SECONDS)
const t2m = await tp2(memMesh, SECONDS)
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
