// Raft benchmarks on a simulated network with memory storage (no fsync, no sockets):
//   1. proposals committed per second through RaftNode (the async loop), 3 and 5 nodes,
//      one proposal at a time (no batching) vs. 1,000 in flight (batched by the Ready loop);
//   2. failover time after a leader crash in virtual time, with etcd's defaults
//      (100 ms heartbeat, 1,000 ms election timeout).
// Run: pnpm --filter @p2p-mcp/consensus build && node bench/raft.bench.ts
import { MemoryNetwork, MemoryStorage, RaftCore, RaftNode } from '../dist/index.js'
import type { Entry, Message, StateMachine } from '../dist/index.js'

class Counter implements StateMachine {
  n = 0
  apply (_e: Entry): unknown { return ++this.n }
  snapshot (): Uint8Array { return new TextEncoder().encode(String(this.n)) }
  restore (d: Uint8Array): void { this.n = Number(new TextDecoder().decode(d)) }
}

async function throughput (size: number, inFlight: number, total: number): Promise<number> {
  const ids = Array.from({ length: size }, (_, i) => `b${i}`)
  const net = new MemoryNetwork()
  const nodes = ids.map((id, i) => new RaftNode({ id, storage: new MemoryStorage({ voters: ids }), transport: net.transport(id), stateMachine: new Counter(), tickMs: 10, seed: i + 1, snapshotThreshold: 20_000 }))
  await Promise.all(nodes.map(async n => { await n.start() }))
  nodes[0]!.campaign()
  while (nodes[0]!.status().role !== 'leader') await new Promise<void>(resolve => setImmediate(resolve))
  const leader = nodes[0]!
  const payload = new Uint8Array(64)
  let issued = 0
  const start = performance.now()
  const worker = async (): Promise<void> => {
    while (issued < total) {
      issued++
      await leader.propose(payload)
    }
  }
  await Promise.all(Array.from({ length: inFlight }, worker))
  const secs = (performance.now() - start) / 1000
  await Promise.all(nodes.map(async n => { await n.stop() }))
  return total / secs
}

/** Virtual-time failover: ticks of 100 ms, per-message delay 1 ms (same rack), etcd's timeouts. */
function failover (size: number, trials: number, preVote: boolean): number[] {
  const out: number[] = []
  for (let t = 0; t < trials; t++) {
    const ids = Array.from({ length: size }, (_, i) => `f${i}`)
    const stores = new Map(ids.map(id => [id, new MemoryStorage({ voters: ids })]))
    const cores = new Map(ids.map((id, i) => [id, new RaftCore({ id, storage: stores.get(id)!, electionTicks: 10, heartbeatTicks: 1, preVote, seed: t * 101 + i + 1 })]))
    const down = new Set<string>()
    const flush = (): void => {
      for (let round = 0; round < 1000; round++) {
        const msgs: Message[] = []
        for (const [id, c] of cores) {
          if (down.has(id)) continue
          while (c.hasReady()) {
            const rd = c.ready()
            stores.get(id)!.write({ entries: rd.entries, hardState: rd.hardState, snapshot: rd.snapshot })
            msgs.push(...rd.earlyMessages, ...rd.messages)
            c.advance()
          }
        }
        if (msgs.length === 0) return
        for (const m of msgs) if (!down.has(m.to)) cores.get(m.to)!.step(m)
      }
    }
    const leader = (): string | undefined => [...cores].find(([id, c]) => !down.has(id) && c.role === 'leader')?.[0]
    let ticks = 0
    while (leader() === undefined) { for (const [id, c] of cores) if (!down.has(id)) c.tick(); flush(); ticks++ }
    // Let the cluster settle, then crash the leader at a random point inside a tick interval.
    for (let i = 0; i < 20 + (t % 7); i++) { for (const c of cores.values()) c.tick(); flush() }
    down.add(leader()!)
    ticks = 0
    while (leader() === undefined) {
      for (const [id, c] of cores) if (!down.has(id)) c.tick()
      flush()
      ticks++
    }
    out.push(ticks * 100)
  }
  return out.sort((a, b) => a - b)
}

const pct = (xs: number[], p: number): number => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))]!

console.log(`node ${process.version}, ${new Date().toISOString()}`)
await throughput(3, 1000, 20_000) // warm-up: JIT and allocator
console.log('| cluster | proposals in flight | proposals committed/s |')
console.log('| --- | --- | --- |')
for (const size of [3, 5]) {
  for (const inFlight of [1, 1000]) {
    const total = inFlight === 1 ? 5_000 : 50_000
    const rate = await throughput(size, inFlight, total)
    console.log(`| ${size} nodes | ${inFlight} | ${Math.round(rate).toLocaleString('en-US')} |`)
  }
}
console.log()
console.log('| cluster | PreVote | failover p50 (virtual ms) | p90 | p99 | max |')
console.log('| --- | --- | --- | --- | --- | --- |')
for (const size of [3, 5]) {
  for (const preVote of [true, false]) {
    const xs = failover(size, 300, preVote)
    console.log(`| ${size} nodes | ${preVote ? 'on' : 'off'} | ${pct(xs, 0.5)} | ${pct(xs, 0.9)} | ${pct(xs, 0.99)} | ${xs.at(-1)} |`)
  }
}
