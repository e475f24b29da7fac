/**
 * Issue 18 scale harness: N real libp2p peers in this process (memory transport, or TCP on
 * 127.0.0.1), each dialing at most 3 others, MESH_PUBLISHERS of them (default all) publishing, registry heartbeat
 * MESH_HB_MS. Routing tables are not waited for. Measures, in order:
 *   converge   all N publications visible at every peer
 *   steady     CPU and memory per peer, gossip records received per peer per second (10 s window)
 *   visible    a peer adds a new tool: time until every other peer's find() (cache) returns it
 *   cached     find() from the cache
 *   cold       find() of that tool on a registry just started on an existing node (empty cache, no anti-entropy)
 *   join       a new peer dials 3 peers: time until its registry holds all N providers
 *   removal    a peer stops: time until it is gone from every other peer's view
 * Results: stdout and .bench-results/mesh-<N>-<time>.json. Bounded by MESH_DEADLINE_S (default 540 s).
 *
 *   MESH_N=100 MESH_HB_MS=500 NODE_OPTIONS=--expose-gc pnpm --filter @p2p-mcp/dht-registry mesh
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { performance } from 'node:perf_hooks'
import { mulberry32 } from '@p2p-mcp/testkit/random'
import { it } from 'vitest'
import type { Registry } from '../src/index.js'
import { connect, createPeer, registryWithPubsub, stopAll, waitFor, waitForGossipMesh } from '../test/integration/helpers.js'
import type { GossipSub } from '@libp2p/gossipsub'
import type { TestPeer } from '../test/integration/helpers.js'

const N = Number(process.env.MESH_N ?? 100)
/** How many of the N peers publish (are providers, and heartbeat); the others only listen. */
const P = Math.min(N, Number(process.env.MESH_PUBLISHERS ?? N))
const HB = Number(process.env.MESH_HB_MS ?? 500)
const TRIALS = Number(process.env.MESH_TRIALS ?? 20)
const COLD = Number(process.env.MESH_COLD_TRIALS ?? 10)
const JOINS = Number(process.env.MESH_JOINS ?? 3)
const REMOVALS = Number(process.env.MESH_REMOVALS ?? 3)
const SEED = Number(process.env.MESH_SEED ?? 18)
const TRANSPORT = (process.env.MESH_TRANSPORT ?? 'memory') as 'memory' | 'tcp'
const DEADLINE_MS = Number(process.env.MESH_DEADLINE_S ?? 500) * 1000

function quantile (xs: number[], q: number): number {
  const s = [...xs].filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (s.length < xs.length) return Number.POSITIVE_INFINITY
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? Number.NaN
}
const r1 = (x: number): number => Math.round(x * 10) / 10
const r3 = (x: number): number => Math.round(x * 1000) / 1000


/** Ms until `check(r)` holds at every registry, or Infinity at those where it did not within `timeoutMs`. */
async function untilAll (registries: Registry[], check: (r: Registry) => boolean, timeoutMs: number): Promise<number[]> {
  const t0 = performance.now()
  return Promise.all(registries.map(async (r) => {
    try {
      await waitFor(() => check(r), [{ target: r, events: ['provider:added', 'provider:updated', 'provider:removed'] }], timeoutMs, 'mesh')
      return performance.now() - t0
    } catch {
      return Number.POSITIVE_INFINITY
    }
  }))
}

const registryInit = { heartbeatIntervalMs: HB }

/** The node's gossipsub as a registry sees it, minus everything it would hear: a cold registry stays cold. */
function deafPubsub (pubsub: GossipSub): GossipSub {
  const validators = new Map()
  const noop = (): void => {}
  return new Proxy(pubsub, {
    get: (target, key) => {
      if (key === 'topicValidators') return validators
      if (key === 'addEventListener' || key === 'removeEventListener' || key === 'subscribe' || key === 'unsubscribe') return noop
      const value: unknown = Reflect.get(target, key)
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value
    },
  })
}

it(`mesh N=${N} heartbeat ${HB} ms on ${TRANSPORT}`, async () => {
  const started = performance.now()
  const left = (): number => DEADLINE_MS - (performance.now() - started)
  const random = mulberry32(SEED)
  const load0 = loadavg()
  const notes: string[] = []
  const peers: TestPeer[] = []
  const extra: TestPeer[] = []
  // written after every phase, so that a run cut short still reports what it measured
  const result: Record<string, unknown> = { n: N, publishers: P, heartbeatMs: HB, transport: TRANSPORT, seed: SEED, date: new Date().toISOString(), node: process.version, notes }
  const file = new URL(`../../../.bench-results/mesh-${N}-${Date.now()}.json`, import.meta.url)
  mkdirSync(new URL('../../../.bench-results/', import.meta.url), { recursive: true })
  const save = (phase: string, values: Record<string, unknown>): void => {
    Object.assign(result, values, { loadAverage: { start: load0.map(r1), now: loadavg().map(r1) }, lastPhase: phase, elapsedS: Math.round((performance.now() - started) / 1000) })
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`)
    console.log(`[${Math.round((performance.now() - started) / 1000)} s, load ${loadavg()[0]!.toFixed(1)}] ${phase}: ${JSON.stringify(values)}`)
  }
  globalThis.gc?.()
  const mem0 = process.memoryUsage()
  try {
    // 0. set-up
    for (let i = 0; i < N; i += 10) {
      peers.push(...await Promise.all(Array.from({ length: Math.min(10, N - i) }, async () => createPeer({ transport: TRANSPORT, registry: registryInit }))))
    }
    await connect(peers, 3, random, 120_000, 'none')
    // on a saturated machine identify can time out, and then gossipsub never learns that a
    // connection speaks it: noted, not fatal (anti-entropy needs only the connection)
    await waitForGossipMesh(peers, 1, { timeoutMs: 60_000 }).catch(() => {
      const alone = peers.filter((p) => p.node.services.pubsub.getSubscribers('p2p-mcp/registry/1').length === 0).length
      notes.push(`set-up: ${alone} peers saw no gossip subscriber within 60 s`)
    })
    const setupMs = performance.now() - started
    save('setup', { setupMs: Math.round(setupMs) })

    // 1. every peer publishes
    const t1 = performance.now()
    const providers = peers.slice(0, P)
    await Promise.all(providers.map(async (p, i) => p.registry.publish({ servers: [{ name: `s${i}`, version: '1.0.0', tools: [{ name: 'work' }] }] })))
    const converge = await untilAll(peers.map((p) => p.registry), (r) => r.providers().length >= P, Math.max(10_000, Math.min(120_000, left() - 360_000)))
    const convergeMs = performance.now() - t1
    if (converge.some((x) => !Number.isFinite(x))) notes.push(`converge: ${converge.filter((x) => !Number.isFinite(x)).length} peers did not hold all ${P} providers within the limit`)
    save('converge', { convergeMs: Math.round(convergeMs), providersHeld: { min: Math.min(...peers.map((p) => p.registry.providers().length)), p50: quantile(peers.map((p) => p.registry.providers().length), 0.5) } })

    // 2. steady state
    globalThis.gc?.()
    const mem1 = process.memoryUsage()
    const stats0 = peers.map((p) => p.registry.stats())
    const cpu0 = process.cpuUsage()
    const w0 = performance.now()
    await new Promise((resolve) => setTimeout(resolve, 10_000))
    const cpu = process.cpuUsage(cpu0)
    const windowS = (performance.now() - w0) / 1000
    const stats1 = peers.map((p) => p.registry.stats())
    const perPeer = (k: 'gossipAccepted' | 'gossipIgnored' | 'syncRounds' | 'syncBytesIn' | 'heartbeatsSent'): number =>
      stats1.reduce((a, s, i) => a + s[k] - stats0[i]![k], 0) / N / windowS
    const steady = {
      cpuPercentOfCorePerPeer: r3((cpu.user + cpu.system) / 1e6 / windowS / N * 100),
      processCpuPercent: r1((cpu.user + cpu.system) / 1e6 / windowS * 100),
      rssMBPerPeer: r1((mem1.rss - mem0.rss) / N / 2 ** 20),
      heapMBPerPeer: r1((mem1.heapUsed - mem0.heapUsed) / N / 2 ** 20),
      recordsAcceptedPerPeerPerS: r1(perPeer('gossipAccepted')),
      recordsIgnoredPerPeerPerS: r1(perPeer('gossipIgnored')),
      heartbeatsSentPerPeerPerS: r1(perPeer('heartbeatsSent')),
      syncRoundsPerPeerPerS: r1(perPeer('syncRounds')),
      syncBytesInPerPeerPerS: r1(perPeer('syncBytesIn')),
      suspectOrDeadFalsely: peers.reduce((a, p) => a + p.registry.stats().deadPeers, 0),
    }
    save('steady', { steady })

    // 3. a new tool visible at every other peer
    const visible: number[] = []
    const publishers = [...providers].sort(() => random() - 0.5).slice(0, Math.min(TRIALS, Math.max(1, P - REMOVALS - 1)))
    const dhtParts: Array<Promise<unknown>> = []
    for (const [k, publisher] of publishers.entries()) {
      if (left() < 240_000) { notes.push(`visible: stopped after ${k} trials (time limit)`); break }
      const i = peers.indexOf(publisher)
      const others = peers.filter((p) => p !== publisher).map((p) => p.registry)
      const tool = `new-${k}`
      const has = (r: Registry): boolean => r.providers().some((m) => m.peerId === publisher.id && m.descriptor.servers.some((s) => s.tools.some((t) => t.name === tool)))
      const arrivals = untilAll(others, has, 10_000)
      const result = await publisher.registry.publish({ servers: [{ name: `s${i}`, version: '1.0.0', tools: [{ name: 'work' }, { name: tool }] }] })
      dhtParts.push(result.dht)
      visible.push(Math.max(...await arrivals))
      const found = await others[0]!.find({ tool }, { dht: false })
      if (found[0]?.peerId !== publisher.id) notes.push(`visible: trial ${k} find() did not return the publisher`)
    }

    save('visible', { visibleAtEveryPeerMs: { p50: Math.round(quantile(visible, 0.5)), p99: Math.round(quantile(visible, 0.99)), trials: visible.length, all: visible.map(Math.round) } })

    // 4. cached find()
    const q = peers[0]!
    const cached: number[] = []
    for (let i = 0; i < 2000; i++) {
      const s = performance.now()
      const found = await q.registry.find({ tool: 'work' }, { dht: false })
      cached.push(performance.now() - s)
      if (found.length === 0) throw new Error('cached find returned nothing')
    }

    save('cached', { cachedFindMs: { p50: r3(quantile(cached, 0.5)), p99: r3(quantile(cached, 0.99)) } })

    // 5. cold DHT find(): a second registry on an existing node, started empty, asks at once
    await Promise.allSettled(dhtParts)
    const cold: number[] = []
    const coldSources: string[] = []
    for (let k = 0; k < Math.min(COLD, publishers.length); k++) {
      if (left() < 180_000) { notes.push(`cold: stopped after ${k} trials (time limit)`); break }
      const node = peers.find((p) => !publishers.includes(p))?.node ?? peers[1]!.node
      const fresh = registryWithPubsub(node, deafPubsub(node.services.pubsub), { heartbeatIntervalMs: HB, antiEntropyIntervalMs: 0 })
      await fresh.start()
      const s = performance.now()
      const found = await fresh.find({ tool: `new-${k}` }, { limit: 1, signal: AbortSignal.timeout(10_000) }).catch(() => [])
      cold.push(performance.now() - s)
      coldSources.push(found[0] === undefined ? 'none' : found[0].peerId === publishers[k]!.id ? found[0].source : 'wrong')
      await fresh.stop()
    }

    save('cold', { coldFindMs: { p50: Math.round(quantile(cold, 0.5)), p99: Math.round(quantile(cold, 0.99)), trials: cold.length, sources: coldSources } })

    // 6. time to ready of a joining peer
    const join: number[] = []
    for (let k = 0; k < JOINS; k++) {
      if (left() < 90_000) { notes.push(`join: stopped after ${k} (time limit)`); break }
      const s = performance.now()
      const joiner = await createPeer({ transport: TRANSPORT, registry: registryInit })
      extra.push(joiner)
      const targets = new Set<number>()
      while (targets.size < 3) targets.add(Math.floor(random() * peers.length))
      await Promise.all([...targets].map(async (t) => joiner.node.dial(peers[t]!.node.getMultiaddrs()).catch((err: unknown) => {
        notes.push(`join ${k}: a dial failed: ${String(err)}`)
      })))
      const [ms] = await untilAll([joiner.registry], (r) => r.providers().length >= P, 20_000)
      join.push(ms === undefined || !Number.isFinite(ms) ? Number.POSITIVE_INFINITY : performance.now() - s)
    }

    save('join', { joinReadyMs: join.map(Math.round) })

    // 7. removal of a dead peer from every view
    const removal: number[] = []
    for (let k = 0; k < REMOVALS; k++) {
      if (left() < 25_000) { notes.push(`removal: stopped after ${k} (time limit)`); break }
      const victim = providers.filter((p) => p !== q && !publishers.includes(p) && peers.includes(p))[0]
      if (victim === undefined) { notes.push('removal: no provider left to stop'); break }
      peers.splice(peers.indexOf(victim), 1)
      const observers = [...peers, ...extra].map((p) => p.registry)
      const gone = untilAll(observers, (r) => !r.providers().some((m) => m.peerId === victim.id), 15_000)
      await victim.stop()
      removal.push(Math.max(...await gone))
    }

    save('removal', {
      removalAtEveryPeerMs: removal.map(Math.round),
      removalBoundMs: 3 * HB + 1000,
      deadDeclared: [...peers, ...extra].reduce((a, p) => a + p.registry.stats().deadPeers, 0),
      obituaries: [...peers, ...extra].reduce((a, p) => a + p.registry.stats().obituariesTaken, 0),
    })

  } finally {
    await stopAll([...peers, ...extra])
  }
}, 900_000)
