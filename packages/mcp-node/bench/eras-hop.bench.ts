// The per-hop cost for both MCP eras, on the path a user sees: a client calling a tool of the
// reference server (examples/reference-server, SDK v2, a child process on 127.0.0.1, hosted by
// peer B as an HTTP upstream)
//  - "direct": through B's HTTP front door (B → upstream), and
//  - "mesh":   through A's HTTP front door (A → libp2p → B → upstream),
// both on the per-server endpoint /servers/reference/mcp, once with an SDK 1.x client (2025-11-25
// session) and once with an SDK v2 client pinned to 2026-07-28 (stateless requests, relayed as
// they are between peers). Peers A and B are `p2p-mcp start` processes; the clients are this process.
//   node --import ../testkit/src/ts-hooks.ts bench/eras-hop.bench.ts     (BENCH_CALLS, BENCH_SECONDS)
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { Client as ModernClient, StreamableHTTPClientTransport as ModernHttp } from '@modelcontextprotocol/client'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { root, startPeer, until } from '../test/integration/peers.js'
import { pct, row, sideBySide } from './hop-measure.js'

const CALLS = Number(process.env.BENCH_CALLS ?? 2000)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5)
const CONCURRENCY = 64
const TOOL = 'test_simple_text'

const load = (): string => loadavg().map((x) => x.toFixed(2)).join(' ')
const loadBefore = load()
const dir = await mkdtemp(join(tmpdir(), 'mcp-node-eras-bench-'))
const upstream = spawn(process.execPath, [join(root, 'examples', 'reference-server', 'server.ts')], { env: { ...process.env, PORT: '0' }, stdio: ['ignore', 'ignore', 'pipe'] })
const upstreamUrl = await new Promise<string>((resolve) => {
  createInterface({ input: upstream.stderr }).on('line', (line) => { const m = /reference server on (\S+)/.exec(line); if (m !== null) resolve(m[1]!) })
})
const a = await startPeer(dir, 'A', { logLevel: 'warn', heartbeatIntervalMs: 2_000 })
const b = await startPeer(dir, 'B', {
  logLevel: 'warn', heartbeatIntervalMs: 500, bootstrap: [a.multiaddrs[0]], upstreams: [{ name: 'reference', type: 'http', url: upstreamUrl }],
})
const path = '/servers/reference/mcp'

interface Caller { call: () => Promise<void>, close: () => Promise<void> }

async function legacy (base: string): Promise<Caller> {
  const c = new Client({ name: 'bench-2025', version: '1' })
  await c.connect(new StreamableHTTPClientTransport(new URL(path, base)))
  return {
    call: async () => { const r = await c.callTool({ name: TOOL, arguments: {} }); if (!JSON.stringify(r.content).includes('simple text')) throw new Error('wrong result') },
    close: async () => { await c.close() },
  }
}

async function modern (base: string): Promise<Caller> {
  const c = new ModernClient({ name: 'bench-2026', version: '1' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } })
  await c.connect(new ModernHttp(new URL(path, base)))
  return {
    call: async () => { const r = await c.callTool({ name: TOOL, arguments: {} }); if (!JSON.stringify(r.content).includes('simple text')) throw new Error('wrong result') },
    close: async () => { await c.close() },
  }
}

await until('reference on A', async () => {
  const c = await legacy(a.http!).catch(() => undefined)
  if (c === undefined) return undefined
  try { await c.call(); return true } catch { return undefined } finally { await c.close() }
}, 60_000, 250)

console.log(`Node ${process.version}, ${new Date().toISOString()}, load average before ${loadBefore}; ${CALLS} sequential calls per side, ${SECONDS} s at concurrency ${CONCURRENCY}; tool ${TOOL} of the v2 reference server`)
console.log('| era / path | p50 ms | p99 ms | calls/s at c=64 |')
console.log('| --- | ---: | ---: | ---: |')
const summary: string[] = []
for (const [era, open] of [['2025-11-25 session', legacy], ['2026-07-28 stateless', modern]] as const) {
  const direct = await open(b.http!)
  const mesh = await open(a.http!)
  const { d, m, tDirect, tMesh } = await sideBySide(direct.call, mesh.call, { calls: CALLS, seconds: SECONDS, concurrency: CONCURRENCY })
  console.log(row(`${era}: B's front door (B → upstream)`, d, tDirect))
  console.log(row(`${era}: A's front door (A → libp2p → B → upstream)`, m, tMesh))
  summary.push(`${era}: added p50 per hop ${(pct(m, 0.5) - pct(d, 0.5)).toFixed(3)} ms; throughput mesh/direct ${(tMesh / tDirect).toFixed(2)}×`)
  await direct.close()
  await mesh.close()
}
for (const s of summary) console.log(s)
console.log(`load average after ${load()}`)

await Promise.all([a.kill('SIGTERM'), b.kill('SIGTERM')])
upstream.kill('SIGTERM')
await rm(dir, { recursive: true, force: true })
