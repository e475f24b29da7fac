// Side-by-side benchmark of MCP transports, all in one process (stdio's server is a child).
//
//   pnpm --filter @p2p-mcp/transport build && pnpm --filter @p2p-mcp/transport bench
//   cd packages/transport && ROUNDS=5 node --import @p2p-mcp/testkit/ts-hooks bench/transport.bench.ts
//
// A trivial tool is called through the SDK Client over each transport: latency (p50, p99)
// of sequential calls at concurrency 1, and throughput (calls/s) with 64 calls in flight.
// Every round runs every transport (order rotated); each figure in the table is the median
// of that figure over the rounds.
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { memory } from '@libp2p/memory'
import { tcp } from '@libp2p/tcp'
import { createLibp2p, type Libp2p } from 'libp2p'
import { fileURLToPath } from 'node:url'
import { randomUUID } from 'node:crypto'
import { dialMcp, serveMcp } from '../dist/index.js'
import { connect, serve } from '../dist/node.js'
import { trivialServer } from './trivial-server.js'

const ROUNDS = Number(process.env.ROUNDS ?? 3)
const CALLS = Number(process.env.CALLS ?? 2000)
const THROUGHPUT_CALLS = Number(process.env.THROUGHPUT_CALLS ?? 12_800)
const CONCURRENCY = 64

interface Setup { client: Client, close: () => Promise<void> }
type Case = () => Promise<Setup>

async function clientOver (transport: Parameters<Client['connect']>[0]): Promise<Client> {
  const client = new Client({ name: 'bench', version: '1.0.0' })
  await client.connect(transport)
  return client
}

async function libp2pNode (kind: 'tcp' | 'memory'): Promise<Libp2p> {
  return createLibp2p({
    addresses: { listen: [kind === 'tcp' ? '/ip4/127.0.0.1/tcp/0' : `/memory/${randomUUID()}`] },
    transports: [kind === 'tcp' ? tcp() : memory()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: { allow: ['/ip4/127.0.0.0/ipcidr/8'] },
  })
}

function overLibp2p (kind: 'tcp' | 'memory'): Case {
  return async () => {
    const [a, b] = await Promise.all([libp2pNode(kind), libp2pNode(kind)])
    const unserve = await serveMcp(b, () => trivialServer(), { idleTimeoutMs: 0 })
    const client = await clientOver(await dialMcp(a, b.getMultiaddrs()))
    return { client, close: async () => { await client.close(); await unserve(); await a.stop(); await b.stop() } }
  }
}

const cases: Record<string, Case> = {
  'SDK in-memory (no I/O)': async () => {
    const [c, s] = InMemoryTransport.createLinkedPair()
    const server = trivialServer()
    await server.connect(s)
    const client = await clientOver(c)
    return { client, close: async () => { await client.close(); await server.close() } }
  },
  'libp2p TCP (noise + yamux)': overLibp2p('tcp'),
  'libp2p memory (noise + yamux)': overLibp2p('memory'),
  'SDK stdio (child process)': async () => {
    const client = await clientOver(new StdioClientTransport({
      command: process.execPath,
      args: [fileURLToPath(new URL('./trivial-server.ts', import.meta.url)), '--stdio'],
      stderr: 'ignore',
    }))
    return { client, close: async () => { await client.close() } }
  },
  'SDK Streamable HTTP (127.0.0.1)': async () => {
    const served = await serve(() => trivialServer(), { type: 'http', port: 0 })
    const client = await clientOver(await connect({ type: 'http', url: served.url! }))
    return { client, close: async () => { await client.close(); await served.close() } }
  },
}

async function call (client: Client, n: number): Promise<void> {
  const res = await client.callTool({ name: 'noop', arguments: { n } })
  if ((res.content as Array<{ text: string }>)[0]?.text !== String(n)) throw new Error(`wrong answer for ${n}`)
}

async function latency (client: Client): Promise<{ p50: number, p99: number }> {
  for (let i = 0; i < 200; i++) await call(client, i)
  const samples = new Float64Array(CALLS)
  for (let i = 0; i < CALLS; i++) {
    const t0 = process.hrtime.bigint()
    await call(client, i)
    samples[i] = Number(process.hrtime.bigint() - t0) / 1e6
  }
  samples.sort()
  return { p50: samples[Math.floor(CALLS * 0.5)]!, p99: samples[Math.floor(CALLS * 0.99)]! }
}

async function throughput (client: Client): Promise<number> {
  let next = 0
  const worker = async (): Promise<void> => { while (next < THROUGHPUT_CALLS) await call(client, next++) }
  // Warm-up with the same shape.
  await Promise.all(Array.from({ length: CONCURRENCY }, async (_, i) => { for (let k = 0; k < 10; k++) await call(client, i * 100 + k) }))
  const t0 = performance.now()
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  return THROUGHPUT_CALLS / ((performance.now() - t0) / 1000)
}

const names = Object.keys(cases)
const results = new Map<string, Array<{ p50: number, p99: number, rps: number }>>(names.map((n) => [n, []]))
for (let round = 0; round < ROUNDS; round++) {
  const order = names.map((_, i) => names[(i + round) % names.length]!)
  for (const name of order) {
    const setup = await cases[name]!()
    const lat = await latency(setup.client)
    const rps = await throughput(setup.client)
    await setup.close()
    results.get(name)!.push({ ...lat, rps })
    console.error(`round ${round + 1}/${ROUNDS} ${name}: p50 ${lat.p50.toFixed(3)} ms, p99 ${lat.p99.toFixed(3)} ms, ${rps.toFixed(0)} calls/s`)
  }
}

const median = (xs: number[]): number => { const s = [...xs].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]! }
const summary = names.map((name) => {
  const r = results.get(name)!
  return { name, p50: median(r.map((x) => x.p50)), p99: median(r.map((x) => x.p99)), rps: median(r.map((x) => x.rps)) }
})
const http = summary.find((s) => s.name.startsWith('SDK Streamable HTTP'))!
const mem = summary.find((s) => s.name.startsWith('SDK in-memory'))!
const p2p = summary.find((s) => s.name.startsWith('libp2p TCP'))!

console.log(`\nNode ${process.version}, median of ${ROUNDS} rounds, ${CALLS} sequential calls, ${THROUGHPUT_CALLS} calls at concurrency ${CONCURRENCY}\n`)
console.log('| transport | p50 ms (c=1) | p99 ms (c=1) | p50 vs HTTP | calls/s (c=64) | vs HTTP | vs SDK in-memory |')
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |')
for (const s of summary) {
  console.log(`| ${s.name} | ${s.p50.toFixed(3)} | ${s.p99.toFixed(3)} | ${(s.p50 / http.p50).toFixed(2)}× | ${s.rps.toFixed(0)} | ${(s.rps / http.rps).toFixed(2)}× | ${(s.rps / mem.rps).toFixed(3)}× |`)
}
console.log(`\nfloors: libp2p p50 ≤ 0.5× HTTP: ${(p2p.p50 / http.p50).toFixed(2)}× ${p2p.p50 <= http.p50 / 2 ? 'met' : 'NOT met'}; ` +
  `libp2p calls/s ≥ 4× HTTP: ${(p2p.rps / http.rps).toFixed(2)}× ${p2p.rps >= 4 * http.rps ? 'met' : 'NOT met'}; ` +
  `libp2p calls/s ≥ 0.15× in-memory: ${(p2p.rps / mem.rps).toFixed(3)}× ${p2p.rps >= 0.15 * mem.rps ? 'met' : 'NOT met'}`)
