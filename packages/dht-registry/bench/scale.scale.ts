/**
 * Scale benchmark: N real libp2p nodes (memory transport, noise, yamux) in one process, each
 * dialing at most 3 others. Measures the time until a new descriptor is visible at every peer,
 * find() latency from the cache and on a cache miss (DHT) with warm routing tables, DHT hops and
 * peers contacted, and memory per peer. Results: stdout and .bench-results/dht-registry-scale-<N>.json.
 *
 *   SCALE_N=10,25,50,100 pnpm --filter @p2p-mcp/dht-registry scale
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { it } from 'vitest'
import { providerCid } from '../src/index.js'
import { connect, createPeer, stopAll, waitForGossipMesh } from '../test/integration/helpers.js'
import type { TestPeer } from '../test/integration/helpers.js'
import { mulberry32 } from '@p2p-mcp/testkit/random'

const sizes = (process.env.SCALE_N ?? '10,25,50,100').split(',').map(Number)
const visibilityTrials = Number(process.env.SCALE_TRIALS ?? 20)
const coldTrials = Number(process.env.SCALE_COLD_TRIALS ?? 20)
// long heartbeats: visibility measures the announcement alone, and a restarted registry stays
// cold for the DHT measurement (a lost announcement is counted, not retried)
const heartbeatMs = Number(process.env.SCALE_HEARTBEAT_MS ?? 600_000)

function quantile (xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? Number.NaN
}
const fmt = (x: number): string => x < 1 ? x.toFixed(3) : x < 100 ? x.toFixed(1) : x.toFixed(0)


/** Runs a DHT findProviders and counts peers contacted and hops (1 + hops of the peer that named it). */
async function traceFindProviders (peer: TestPeer, tool: string): Promise<{ contacted: number, contactedToFirst: number, hopsToFirst: number, maxHops: number }> {
  const hop = new Map<string, number>()
  let contacted = 0
  let contactedToFirst = -1
  let hopsToFirst = -1
  let maxHops = 0
  const cid = await providerCid('tool', tool)
  for await (const e of peer.node.services.dht.findProviders(cid, { signal: AbortSignal.timeout(120_000) })) {
    if (e.name === 'SEND_QUERY') {
      contacted++
      const h = hop.get(e.to.toString()) ?? 1
      hop.set(e.to.toString(), h)
      maxHops = Math.max(maxHops, h)
    } else if (e.name === 'PEER_RESPONSE') {
      const h = hop.get(e.from.toString()) ?? 1
      for (const c of e.closer) if (!hop.has(c.id.toString())) hop.set(c.id.toString(), h + 1)
      if (e.providers.length > 0 && hopsToFirst < 0) {
        hopsToFirst = h
        contactedToFirst = contacted
      }
    } else if (e.name === 'PROVIDER' && hopsToFirst < 0) {
      hopsToFirst = 0
      contactedToFirst = contacted
    }
  }
  return { contacted, contactedToFirst, hopsToFirst, maxHops }
}

for (const n of sizes) {
  it(`scale N=${n}`, async () => {
    const random = mulberry32(n)
    globalThis.gc?.()
    const rss0 = process.memoryUsage().rss
    const heap0 = process.memoryUsage().heapUsed
    const t0 = performance.now()
    const peers: TestPeer[] = []
    try {
      for (let i = 0; i < n; i += 10) {
        peers.push(...await Promise.all(Array.from({ length: Math.min(10, n - i) }, async () => createPeer({ registry: { heartbeatIntervalMs: heartbeatMs, recordTtlMs: 3_600_000 } }))))
      }
      const links = await connect(peers, 3, random, 300_000, 'one')
      await waitForGossipMesh(peers, 1, { mesh: true, timeoutMs: 300_000 })
      const setupMs = performance.now() - t0
      const conns = peers.map((p) => p.node.getConnections().length)
      // warm the routing tables the way the DHT's own self-query does
      let warmupFailures = 0
      for (let i = 0; i < peers.length; i += 10) {
        await Promise.all(peers.slice(i, i + 10).map(async (p) => {
          try {
            for await (const _ of p.node.services.dht.getClosestPeers(p.node.peerId.toMultihash().bytes, { signal: AbortSignal.timeout(120_000) })) { /* drain */ }
          } catch (err) {
            warmupFailures++
            console.log(`warm-up self-lookup failed: ${String(err)}`)
          }
        }))
      }
      const rt = peers.map((p) => (p.node.services.dht as unknown as { routingTable: { size: number } }).routingTable.size)
      globalThis.gc?.()
      const rssPerPeer = (process.memoryUsage().rss - rss0) / n
      const heapPerPeer = (process.memoryUsage().heapUsed - heap0) / n

      // 1. time until a new descriptor is visible at every peer
      const allVisible: number[] = []
      const stored: number[] = []
      let lost = 0
      const perPeer: number[] = []
      const trials = Math.min(visibilityTrials, n - 2)
      const publishers = [...peers].sort(() => random() - 0.5).slice(0, trials)
      for (const [k, publisher] of publishers.entries()) {
        const others = peers.filter((p) => p !== publisher)
        const start = performance.now()
        const arrivals = others.map(async (p) => new Promise<number>((resolve) => {
          const timer = setTimeout(() => { p.registry.removeEventListener('provider:added', on); resolve(Number.POSITIVE_INFINITY) }, 30_000)
          const on = (e: CustomEvent<{ peerId: string }>): void => {
            if (e.detail.peerId !== publisher.id) return
            clearTimeout(timer)
            p.registry.removeEventListener('provider:added', on)
            resolve(performance.now() - start)
          }
          p.registry.addEventListener('provider:added', on)
        }))
        const published = publisher.registry.publish({
          servers: [{ name: `server-${k}`, version: '1.0.0', tools: [{ name: 'work', inputSchema: { type: 'object' } }, { name: `only-${k}` }] }],
          capabilities: k % 2 === 0 ? ['cuda'] : ['cpu'],
        })
        const times = await Promise.all(arrivals)
        lost += times.filter((x) => x === Number.POSITIVE_INFINITY).length
        allVisible.push(Math.max(...times))
        perPeer.push(...times)
        stored.push((await (await published).dht).stored)
      }

      // 2. find() from the cache
      const querier = peers.find((p) => !publishers.includes(p)) ?? peers[0]!
      const cached: number[] = []
      for (let i = 0; i < 2000; i++) {
        const s = performance.now()
        const r = await querier.registry.find({ tool: 'work', capabilities: ['cuda'] }, { dht: false })
        cached.push(performance.now() - s)
        if (r.length === 0) throw new Error('cached find returned nothing')
      }
      const cacheSize = querier.registry.stats().providers

      // 3. find() on a cache miss: restart a registry (its cache empties); a find answered from a
      //    heartbeat that arrived in between counts as a failure, not as a cold find
      const coldFailures: string[] = []
      const cold1: number[] = []
      const cold20: number[] = []
      const traces: Array<Awaited<ReturnType<typeof traceFindProviders>>> = []
      const cold = Math.min(coldTrials, publishers.length)
      for (let k = 0; k < cold; k++) {
        const q = peers.filter((p) => !publishers.includes(p))[k % (n - trials)]!
        const tool = `only-${k}`
        for (const [limit, out] of [[1, cold1], [20, cold20]] as const) {
          await q.registry.stop()
          await q.registry.start()
          const s = performance.now()
          const r = await q.registry.find({ tool }, { limit, signal: AbortSignal.timeout(30_000) }).catch((err: unknown) => {
            console.log(`cold find failed: ${String(err)}`)
            return []
          })
          out.push(performance.now() - s)
          if (r[0]?.peerId !== publishers[k]!.id || r[0]?.source !== 'dht') {
            coldFailures.push(`trial ${k} limit ${limit}: ${JSON.stringify(q.registry.stats())}`)
            out.pop()
          }
        }
        try {
          traces.push(await traceFindProviders(q, tool))
        } catch (err) {
          console.log(`traced findProviders failed: ${String(err)}`)
        }
      }

      const result = {
        n,
        date: new Date().toISOString(),
        node: process.version,
        setupMs: Math.round(setupMs),
        warmupFailures,
        dialsPerPeer: { mean: links.reduce((a, b) => a + b, 0) / n, max: Math.max(...links) },
        connectionsPerPeer: { mean: conns.reduce((a, b) => a + b, 0) / n, max: Math.max(...conns) },
        routingTable: { mean: rt.reduce((a, b) => a + b, 0) / n, min: Math.min(...rt) },
        visibleAtAllMs: { p50: quantile(allVisible, 0.5), p99: quantile(allVisible, 0.99), trials: allVisible.length, lostAnnouncements: lost },
        visiblePerPeerMs: { p50: quantile(perPeer, 0.5), p99: quantile(perPeer, 0.99), samples: perPeer.length },
        cachedFindMs: { p50: quantile(cached, 0.5), p99: quantile(cached, 0.99), cacheSize },
        coldFindLimit1Ms: { p50: quantile(cold1, 0.5), p99: quantile(cold1, 0.99), trials: cold1.length },
        coldFindFailures: coldFailures,
        putStoredPerPublish: { p50: quantile(stored, 0.5), min: Math.min(...stored) },
        coldFindLimit20Ms: { p50: quantile(cold20, 0.5), p99: quantile(cold20, 0.99) },
        dhtFindProviders: {
          hopsToFirstProvider: { p50: quantile(traces.map((t) => t.hopsToFirst), 0.5), max: Math.max(...traces.map((t) => t.hopsToFirst)) },
          peersContactedToFirst: { p50: quantile(traces.map((t) => t.contactedToFirst), 0.5), max: Math.max(...traces.map((t) => t.contactedToFirst)) },
          peersContactedTotal: { p50: quantile(traces.map((t) => t.contacted), 0.5), max: Math.max(...traces.map((t) => t.contacted)) },
          maxHops: Math.max(...traces.map((t) => t.maxHops)),
        },
        memoryPerPeerMB: { rss: rssPerPeer / 2 ** 20, heap: heapPerPeer / 2 ** 20 },
        load: process.platform === 'linux' ? (await import('node:os')).loadavg()[0] : undefined,
      }
      mkdirSync(new URL('../../../.bench-results/', import.meta.url), { recursive: true })
      writeFileSync(new URL(`../../../.bench-results/dht-registry-scale-${n}.json`, import.meta.url), `${JSON.stringify(result, null, 2)}\n`)
      console.log(`| ${n} | ${fmt(result.connectionsPerPeer.mean)} (max ${result.connectionsPerPeer.max}) | ${fmt(result.visibleAtAllMs.p50)} / ${fmt(result.visibleAtAllMs.p99)} | ` +
        `${fmt(result.visiblePerPeerMs.p50)} / ${fmt(result.visiblePerPeerMs.p99)} | ${fmt(result.cachedFindMs.p50)} / ${fmt(result.cachedFindMs.p99)} | ` +
        `${fmt(result.coldFindLimit1Ms.p50)} / ${fmt(result.coldFindLimit1Ms.p99)} | ${fmt(result.coldFindLimit20Ms.p50)} / ${fmt(result.coldFindLimit20Ms.p99)} | ` +
        `${result.dhtFindProviders.hopsToFirstProvider.p50} (max ${result.dhtFindProviders.maxHops}) | ${result.dhtFindProviders.peersContactedToFirst.p50} / ${result.dhtFindProviders.peersContactedTotal.p50} | ` +
        `${fmt(result.memoryPerPeerMB.rss)} / ${fmt(result.memoryPerPeerMB.heap)} | ${lost} | ${coldFailures.length} | ${fmt(result.load ?? 0)} |`)
      console.log(JSON.stringify(result))
    } finally {
      await stopAll(peers)
    }
  })
}

