// Side-by-side benchmarks of the client pool, all in one process, real SDK servers over the
// SDK's InMemoryTransport.
//
//   pnpm --filter @p2p-mcp/client-pool build && pnpm --filter @p2p-mcp/client-pool bench
//   CALLS=6000 ROUNDS=31 node packages/client-pool/bench/pool.bench.ts
//   ONLY=tail | ONLY=overhead   runs one part
//
// 1. Tail latency: three replicas of one server, one of them 20× slower (FAST_MS vs 20 ×
//    FAST_MS per call, default 5 ms vs 100 ms), a closed loop of CONCURRENCY callers. Each balancer of the pool, a pool with a
//    uniformly random picker, and the usual hand-rolled alternative (an array of SDK
//    Clients taken in turn) make the same CALLS calls; p50/p99/p99.9 and the share of calls
//    that reached the slow replica are reported, with p99 as a ratio to round-robin.
// 2. Overhead: sequential calls of a tool that answers at once, through the pool (one
//    endpoint, default options) and through a bare SDK Client; ROUNDS rounds of
//    OVERHEAD_CALLS calls per contender, the ratio to the bare client taken within each
//    round, medians and quartiles over the rounds.
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js'
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js'
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { z } from 'zod'
import { createClientPool } from '../dist/index.js'
import type { BalancerName, ClientPool, ClientPoolInit, EndpointSpec, Picker } from '../dist/index.js'

const CALLS = Number(process.env.CALLS ?? 4000)
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 6)
const ROUNDS = Number(process.env.ROUNDS ?? 31)
const OVERHEAD_CALLS = Number(process.env.OVERHEAD_CALLS ?? 1000)
const FAST_MS = Number(process.env.FAST_MS ?? 5)

function server (delayMs: number, hits: { n: number }): McpServer {
  const s = new McpServer({ name: 'bench', version: '1.0.0' })
  s.registerTool('search', { inputSchema: { q: z.string() }, annotations: { readOnlyHint: true } }, async ({ q }) => {
    hits.n++
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs))
    return { content: [{ type: 'text', text: q }] }
  })
  return s
}

async function connectPair (delayMs: number, hits: { n: number }): Promise<InMemoryTransport> {
  const [c, s] = InMemoryTransport.createLinkedPair()
  await server(delayMs, hits).connect(s)
  return c
}

interface Replica { id: string, delayMs: number, hits: { n: number } }
const replicaSet = (): Replica[] => [
  { id: 'fast-1', delayMs: FAST_MS, hits: { n: 0 } },
  { id: 'slow', delayMs: 20 * FAST_MS, hits: { n: 0 } },
  { id: 'fast-2', delayMs: FAST_MS, hits: { n: 0 } },
]
const specs = (rs: Replica[]): EndpointSpec[] => rs.map((r) => ({ id: r.id, connect: async () => await connectPair(r.delayMs, r.hits) }))

/**
 * A transport with no server behind it: it answers every request at once from a microtask.
 * Calls over it measure the client side alone (the SDK Client, and the pool around it).
 */
class EchoTransport implements Transport {
  onmessage?: (message: JSONRPCMessage) => void
  onclose?: () => void
  onerror?: (error: Error) => void
  async start (): Promise<void> {}
  close (): Promise<void> { this.onclose?.(); return Promise.resolve() }
  send (message: JSONRPCMessage): Promise<void> {
    if (!('id' in message) || !('method' in message)) return Promise.resolve()
    const result = message.method === 'initialize'
      ? { protocolVersion: '2025-11-25', capabilities: { tools: {} }, serverInfo: { name: 'echo', version: '1.0.0' } }
      : message.method === 'tools/list' ? { tools: [] } : { content: [{ type: 'text', text: 'x' }] }
    const response: JSONRPCMessage = { jsonrpc: '2.0', id: message.id, result }
    queueMicrotask(() => { this.onmessage?.(response) })
    return Promise.resolve()
  }
}

function quantile (sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}

async function closedLoop (call: (i: number) => Promise<void>): Promise<Float64Array> {
  const latencies = new Float64Array(CALLS)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < CALLS) {
      const i = next++
      const t0 = performance.now()
      await call(i)
      latencies[i] = performance.now() - t0
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  return latencies.sort()
}

const randomPicker: Picker = { pick: (c, ctx) => c[Math.floor(ctx.random() * c.length)] }

async function tail (): Promise<void> {
  const rows: Array<{ name: string, p50: number, p99: number, p999: number, slowShare: number }> = []
  const contenders: Array<[string, BalancerName | Picker, ClientPoolInit]> = [
    ['pool: peak-ewma (default)', 'peak-ewma', {}],
    ['pool: peak-ewma, no stall compensation', 'peak-ewma', { stallCheckIntervalMs: 0 }],
    ['pool: peak-ewma, Finagle (time-only decay, no stall compensation)', 'peak-ewma', { ewmaMinSampleWeight: 0, stallCheckIntervalMs: 0 }],
    ['pool: least-request', 'least-request', {}],
    ['pool: round-robin', 'round-robin', {}],
    ['pool: random picker', randomPicker, {}],
  ]
  for (const [name, balancer, extra] of contenders) {
    const rs = replicaSet()
    const pool: ClientPool = createClientPool({ endpoints: specs(rs), balancer, healthCheck: false, ...extra })
    const lat = await closedLoop(async (i) => { await pool.callTool({ name: 'search', arguments: { q: String(i) } }) })
    await pool.close()
    rows.push({ name, p50: quantile(lat, 0.5), p99: quantile(lat, 0.99), p999: quantile(lat, 0.999), slowShare: rs[1]!.hits.n / CALLS })
  }
  {
    // What most MCP "pools" do: N clients, taken in turn.
    const rs = replicaSet()
    const clients = await Promise.all(rs.map(async (r) => {
      const c = new Client({ name: 'bench', version: '1.0.0' })
      await c.connect(await connectPair(r.delayMs, r.hits))
      return c
    }))
    let turn = 0
    const lat = await closedLoop(async (i) => { await clients[turn++ % clients.length]!.callTool({ name: 'search', arguments: { q: String(i) } }) })
    for (const c of clients) await c.close()
    rows.push({ name: 'SDK Clients in turn (no pool)', p50: quantile(lat, 0.5), p99: quantile(lat, 0.99), p999: quantile(lat, 0.999), slowShare: rs[1]!.hits.n / CALLS })
  }
  const rr = rows.find((r) => r.name === 'pool: round-robin')!.p99
  console.log(`\n## Tail latency: 3 replicas, one 20x slower (${FAST_MS} ms vs ${20 * FAST_MS} ms), ${CALLS} calls, ${CONCURRENCY} callers\n`)
  console.log('| contender | p50 ms | p99 ms | p99.9 ms | p99 vs round-robin | calls on the slow replica |')
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |')
  for (const r of rows) {
    console.log(`| ${r.name} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.p999.toFixed(2)} | ${(r.p99 / rr).toFixed(3)}x | ${(r.slowShare * 100).toFixed(2)}% |`)
  }
}

async function overhead (): Promise<void> {
  const hits = { n: 0 }
  const bare = new Client({ name: 'bench', version: '1.0.0' })
  await bare.connect(await connectPair(0, hits))
  const pool = createClientPool({ endpoints: [{ id: 'only', connect: async () => await connectPair(0, hits) }] })
  const pool3 = createClientPool({
    endpoints: ['a', 'b', 'c'].map((id) => ({ id, connect: async () => await connectPair(0, hits) })),
  })
  const bareEcho = new Client({ name: 'bench', version: '1.0.0' })
  await bareEcho.connect(new EchoTransport())
  const poolEcho = createClientPool({ endpoints: [{ id: 'echo', connect: () => new EchoTransport() }] })
  // What the stall detector's per-attempt abort signal costs (docs/decisions/0151).
  const poolEchoNoStall = createClientPool({ endpoints: [{ id: 'echo', connect: () => new EchoTransport() }], stallDetection: false })
  const params = { name: 'search', arguments: { q: 'x' } }
  const contenders: Array<[string, () => Promise<unknown>]> = [
    ['bare SDK Client', async () => await bare.callTool(params)],
    ['pool, 1 endpoint (defaults)', async () => await pool.callTool(params)],
    ['pool, 3 endpoints (defaults)', async () => await pool3.callTool(params)],
    ['client side only: bare SDK Client, server-less transport', async () => await bareEcho.callTool(params)],
    ['client side only: pool, server-less transport', async () => await poolEcho.callTool(params)],
    ['client side only: pool without stall detection, server-less transport', async () => await poolEchoNoStall.callTool(params)],
  ]
  for (const [, fn] of contenders) for (let i = 0; i < 2000; i++) await fn() // warm-up
  // Wall time and CPU time (user + system of this process, which runs client and server):
  // on a shared machine the CPU time is the steadier measure of the work a call costs.
  // Each round runs every contender for a short batch, back to back in a rotating order,
  // and the ratios to the bare client are taken within the round, so that the machine's
  // load drifting between rounds cancels out; the tables give the median over rounds.
  const wall = new Map<string, number[]>(contenders.map(([n]) => [n, []]))
  const cpu = new Map<string, number[]>(contenders.map(([n]) => [n, []]))
  const wallRatio = new Map<string, number[]>(contenders.map(([n]) => [n, []]))
  const cpuRatio = new Map<string, number[]>(contenders.map(([n]) => [n, []]))
  for (let round = 0; round < ROUNDS; round++) {
    const w = new Map<string, number>()
    const c = new Map<string, number>()
    for (let k = 0; k < contenders.length; k++) {
      const [name, fn] = contenders[(k + round) % contenders.length]!
      const t0 = performance.now()
      const c0 = process.cpuUsage()
      for (let i = 0; i < OVERHEAD_CALLS; i++) await fn()
      const used = process.cpuUsage(c0)
      w.set(name, (performance.now() - t0) * 1000 / OVERHEAD_CALLS)
      c.set(name, (used.user + used.system) / OVERHEAD_CALLS)
    }
    for (const [name] of contenders) {
      wall.get(name)!.push(w.get(name)!)
      cpu.get(name)!.push(c.get(name)!)
      const base = name.startsWith('client side only') ? 'client side only: bare SDK Client, server-less transport' : 'bare SDK Client'
      wallRatio.get(name)!.push(w.get(name)! / w.get(base)!)
      cpuRatio.get(name)!.push(c.get(name)! / c.get(base)!)
    }
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  const q = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.floor(p * (xs.length - 1))]!
  console.log(`\n## Per-call overhead: sequential callTool, in-memory transport, ${ROUNDS} rounds x ${OVERHEAD_CALLS} calls per contender (medians; ratios to the bare client of the same transport, taken within each round, [quartiles])\n`)
  console.log('| contender | wall µs/call | wall vs bare | CPU µs/call | CPU vs bare |')
  console.log('| --- | ---: | ---: | ---: | ---: |')
  for (const [name] of contenders) {
    const wr = wallRatio.get(name)!
    const cr = cpuRatio.get(name)!
    console.log(`| ${name} | ${median(wall.get(name)!).toFixed(1)} | ${median(wr).toFixed(3)}x [${q(wr, 0.25).toFixed(2)}–${q(wr, 0.75).toFixed(2)}] | ` +
      `${median(cpu.get(name)!).toFixed(1)} | ${median(cr).toFixed(3)}x [${q(cr, 0.25).toFixed(2)}–${q(cr, 0.75).toFixed(2)}] |`)
  }
  await bare.close()
  await bareEcho.close()
  await poolEcho.close()
  await poolEchoNoStall.close()
  await pool.close()
  await pool3.close()
}

console.log(`Node ${process.version}, ${new Date().toISOString()}`)
if (process.env.ONLY !== 'overhead') await tail()
if (process.env.ONLY !== 'tail') await overhead()
