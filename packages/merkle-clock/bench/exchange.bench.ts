// Sync over /p2p-mcp/clock/1.0.0 between two libp2p nodes in one process (memory transport,
// noise, yamux), against the same merge with an in-process fetch.
//
//   pnpm --filter @p2p-mcp/merkle-clock build && node packages/merkle-clock/bench/exchange.bench.ts
//   ROUNDS=3 DIVERGENCE=10000 WIDTH=1 node packages/merkle-clock/bench/exchange.bench.ts
//
// WIDTH > 1 builds the divergence as WIDTH concurrent branches (what pipelining can overlap).
import { randomUUID } from 'node:crypto'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { memory } from '@libp2p/memory'
import { createLibp2p } from 'libp2p'
import { MerkleClock } from '../dist/index.js'
import { ClockExchange } from '../dist/libp2p.js'

const ROUNDS = Number(process.env.ROUNDS ?? 3)
const DIVERGENCE = Number(process.env.DIVERGENCE ?? 10_000)
const WIDTH = Number(process.env.WIDTH ?? 1)

async function startNode (): Promise<Awaited<ReturnType<typeof createLibp2p>>> {
  return createLibp2p({ addresses: { listen: [`/memory/${randomUUID()}`] }, transports: [memory()], connectionEncrypters: [noise()], streamMuxers: [yamux()] })
}

// The source: WIDTH branches from one root, DIVERGENCE events in all, then one event joining them.
const source = new MerkleClock<number>()
await source.advance(-1)
const root = source.heads
const branches = Array.from({ length: WIDTH }, () => new MerkleClock<number>({ store: source.store, heads: root }))
for (let i = 0; i < DIVERGENCE; i++) await branches[i % WIDTH]!.advance(i)
await source.merge(branches.flatMap((b) => b.heads))
await source.advance(DIVERGENCE) // joins the branches

const [na, nb] = await Promise.all([startNode(), startNode()])
const serve = new ClockExchange(na, source)
await serve.start()
await nb.dial(na.getMultiaddrs()) // connection set up outside the timings

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const PREFETCH = Number(process.env.PREFETCH ?? 64)
const times: Record<string, number[]> = {
  'in-process fetch': [],
  'libp2p memory transport, concurrency 8': [],
  'libp2p memory transport, concurrency 1': [],
  [`libp2p memory transport, concurrency 8, prefetch ${PREFETCH}`]: [],
}
const roundTrips: Record<string, number> = { 'in-process fetch': 0 }
for (let r = 0; r < ROUNDS; r++) {
  for (const name of Object.keys(times)) {
    const sink = new MerkleClock<number>()
    await sink.merge(root, { fetch: (cid) => source.store.get(cid) })
    const t0 = performance.now()
    let added: number
    if (name === 'in-process fetch') {
      added = (await sink.merge(source.heads, { fetch: (cid) => source.store.get(cid) })).added.length
    } else {
      const prefetch = name.includes('prefetch') ? PREFETCH : 0
      const res = await new ClockExchange(nb, sink).sync(na.getMultiaddrs(), { concurrency: name.includes('concurrency 1') ? 1 : 8, prefetch })
      added = res.added.length
      if (res.blocksReceived !== DIVERGENCE + 1) throw new Error(`received ${res.blocksReceived}`)
      roundTrips[name] = res.blockRequests
    }
    times[name]!.push(performance.now() - t0)
    if (added !== DIVERGENCE + 1) throw new Error(`${name} added ${added}`)
  }
}
console.log(`\n### sync a ${DIVERGENCE}-event divergence in ${WIDTH} branch(es) (+1 joining event)\n`)
console.log('| fetch | median ms | events/s | block round trips | time vs in-process |')
console.log('| --- | --- | --- | --- | --- |')
const base = median(times['in-process fetch']!)
for (const [name, ts] of Object.entries(times)) {
  const ms = median(ts)
  console.log(`| ${name} | ${ms.toFixed(0)} | ${Math.round((DIVERGENCE + 1) / (ms / 1000))} | ${roundTrips[name]} | ${(ms / base).toFixed(2)}× |`)
}
console.log(`\nNode ${process.version}, ROUNDS=${ROUNDS}, DIVERGENCE=${DIVERGENCE}, WIDTH=${WIDTH}, PREFETCH=${PREFETCH}`)
await serve.stop()
await Promise.all([na.stop(), nb.stop()])
