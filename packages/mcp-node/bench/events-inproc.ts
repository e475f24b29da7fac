// The event pipeline in one process, side by side with its floor, plain gossipsub:
//  1. latency: PACED events at RATE/s published at peer 0 of NODES in-process peers (TCP on
//     127.0.0.1), received by a subscription at the last peer (signing, gossip, validation,
//     Merkle-clock merge, log append, dispatch), against the same payloads published raw on a
//     gossipsub topic of the same nodes (no signature of ours, no clock, no log);
//  2. throughput: BURST events published at peer 0 with SUBSCRIBERS subscriptions at peer 1;
//  3. log replay: the events of peer 1's log read back from disk after a restart (events/s).
//   node --import ../testkit/src/ts-hooks.ts bench/events-inproc.ts
import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createMcpNode, type McpNode } from '../src/index.js'
import { EventLog } from '../src/events/event-log.js'
import { noopLogger } from '../src/logger.js'

const NODES = Number(process.env.NODES ?? 4)
const PACED = Number(process.env.PACED ?? 500)
const RATE = Number(process.env.RATE ?? 100)
const BURST = Number(process.env.BURST ?? 2000)
const SUBSCRIBERS = Number(process.env.SUBSCRIBERS ?? 100)
const REPLAY = Number(process.env.REPLAY ?? 20_000)

const pct = (xs: number[], p: number): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p / 100 * s.length))] ?? NaN }
const fmt = (xs: number[]): string => `p50 ${pct(xs, 50).toFixed(2)} ms, p99 ${pct(xs, 99).toFixed(2)} ms, max ${Math.max(...xs).toFixed(2)} ms (n=${xs.length})`
const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

const dir = await mkdtemp(join(tmpdir(), 'events-inproc-'))
const nodes: McpNode[] = []
try {
  const cfg = (name: string): Parameters<typeof createMcpNode>[0] => ({ http: { enabled: false }, dataDir: join(dir, name), controlPlane: { enabled: false }, logLevel: 'silent' })
  const a = createMcpNode(cfg('n0'))
  await a.start()
  nodes.push(a)
  for (let i = 1; i < NODES; i++) {
    const n = createMcpNode({ ...cfg(`n${i}`), bootstrap: a.multiaddrs })
    await n.start()
    nodes.push(n)
  }
  while (a.libp2p.services.pubsub.getSubscribers('p2p-mcp/events/1').length < NODES - 1) await sleep(50)
  const last = nodes.at(-1)!
  const raw = 'bench/raw/1'
  for (const n of nodes) n.libp2p.services.pubsub.subscribe(raw)
  while (a.libp2p.services.pubsub.getSubscribers(raw).length < NODES - 1) await sleep(50)
  await sleep(1000)
  console.log(`${NODES} in-process peers, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`)

  // 1. latency, events vs raw gossipsub, interleaved so both see the same load
  const evLat: number[] = []
  const rawLat: number[] = []
  const sub = last.events.subscribe({ topics: ['bench.#'], principal: 'local' }, (d) => { evLat.push(performance.timeOrigin + performance.now() - Date.parse(d.event.timestamp)) })
  last.libp2p.services.pubsub.addEventListener('message', (e) => {
    if (e.detail.topic !== raw) return
    const sent = (JSON.parse(new TextDecoder().decode(e.detail.data)) as { t: number }).t
    rawLat.push(performance.timeOrigin + performance.now() - sent)
  })
  const start = Date.now()
  for (let i = 0; i < PACED; i++) {
    const due = start + i * 1000 / RATE
    if (due > Date.now()) await sleep(due - Date.now())
    await a.events.publish({ event_type: 'bench.paced', event_data: { i, pad: 'x'.repeat(200) } })
    await a.libp2p.services.pubsub.publish(raw, new TextEncoder().encode(JSON.stringify({ t: Date.now(), i, pad: 'x'.repeat(500) })))
  }
  while (evLat.length < PACED || rawLat.length < PACED) await sleep(20)
  sub.close()
  console.log(`latency at ${RATE}/s, peer 0 → peer ${NODES - 1}: events ${fmt(evLat)}`)
  console.log(`latency at ${RATE}/s, peer 0 → peer ${NODES - 1}: raw gossipsub ${fmt(rawLat)}`)

  // 2. burst with SUBSCRIBERS subscriptions at peer 1
  const target = nodes[1]!
  const counts = new Array<number>(SUBSCRIBERS).fill(0)
  const burstLat: number[] = []
  const subs = counts.map((_, k) => target.events.subscribe({ topics: ['burst.#'], principal: 'local' }, (d) => {
    counts[k]!++
    if (k === 0) burstLat.push(Date.now() - Date.parse(d.event.timestamp))
  }))
  const t0 = performance.now()
  for (let i = 0; i < BURST; i++) await a.events.publish({ event_type: 'burst.x', event_data: { i } })
  const published = performance.now()
  while (counts.some((c) => c < BURST)) await sleep(10)
  const done = performance.now()
  for (const s of subs) s.close()
  console.log(`burst: ${BURST} events published in ${(published - t0).toFixed(0)} ms (${(BURST / (published - t0) * 1000).toFixed(0)}/s); ` +
    `${SUBSCRIBERS} subscribers at peer 1 had all after ${(done - t0).toFixed(0)} ms: ${(BURST / (done - t0) * 1000).toFixed(0)} events/s sustained, ` +
    `${(BURST * SUBSCRIBERS / (done - t0) * 1000).toFixed(0)} deliveries/s; latency ${fmt(burstLat)}`)
} finally {
  await Promise.allSettled(nodes.map(async (n) => { await n.stop({ graceMs: 500 }) }))
}

// 3. log replay from disk
{
  const log = new EventLog({ dir: join(dir, 'replay'), logger: noopLogger, memoryEvents: 1 })
  for await (const _ of log.open()) { /* empty */ }
  const block = new Uint8Array(400).fill(7)
  for (let i = 0; i < REPLAY; i++) log.append({ cid: `c${i}`, eventId: `evt-${i}`, block })
  await log.close()
  const again = new EventLog({ dir: join(dir, 'replay'), logger: noopLogger, memoryEvents: 1 })
  const t0 = performance.now()
  let n = 0
  for await (const _ of again.open()) n++
  const t1 = performance.now()
  let m = 0
  for await (const _ of again.read(1)) m++
  const t2 = performance.now()
  console.log(`log replay: open (rebuild) ${n} events of 400 B in ${(t1 - t0).toFixed(0)} ms (${(n / (t1 - t0) * 1000).toFixed(0)} events/s); read(1) ${m} in ${(t2 - t1).toFixed(0)} ms (${(m / (t2 - t1) * 1000).toFixed(0)} events/s)`)
  await again.close()
}
console.log(`load average after: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`)
await rm(dir, { recursive: true, force: true })
