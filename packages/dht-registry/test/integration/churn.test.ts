import { afterAll, describe, expect, it } from 'vitest'
import { REGISTRY_TOPIC } from '../../src/index.js'
import { connect, createPeer, routingTable, stopAll, waitFor } from './helpers.js'
import type { TestPeer } from './helpers.js'
import { mulberry32 } from '@p2p-mcp/testkit/random'

const HEARTBEAT_MS = 300


function publishAs (p: TestPeer, i: number): Promise<unknown> {
  return p.registry.publish({
    servers: [{ name: `server-${i % 3}`, version: '1.0.0', tools: [{ name: 'work', inputSchema: { type: 'object' } }] }],
    capabilities: i % 2 === 0 ? ['cuda'] : ['cpu'],
  })
}

describe('20-node churn', () => {
  const live: TestPeer[] = []
  afterAll(async () => { await stopAll(live) })

  it('every survivor converges on the set of live providers', async () => {
    const t0 = Date.now()
    const seed = Number(process.env.CHURN_SEED ?? 20261121)
    const random = mulberry32(seed)
    const make = async (): Promise<TestPeer> => createPeer({ registry: { heartbeatIntervalMs: HEARTBEAT_MS, missedHeartbeats: 3 } })
    // 14 stable peers on a connected backbone, 6 churners hanging off random stable peers
    const stable = await Promise.all(Array.from({ length: 14 }, make))
    live.push(...stable)
    await connect(stable, 3, random)
    const churners = await Promise.all(Array.from({ length: 6 }, make))
    live.push(...churners)
    const dialInto = async (p: TestPeer): Promise<void> => {
      const targets = new Set<number>()
      while (targets.size < 3) targets.add(Math.floor(random() * stable.length))
      await Promise.all([...targets].map(async (t) => p.node.dial(stable[t]!.node.getMultiaddrs())))
      await waitFor(() => routingTable(p).size >= 1, [{ target: routingTable(p), events: ['peer:add'] }], 10_000, 'routing table')
    }
    await Promise.all(churners.map(dialInto))
    await Promise.all(live.map(async (p) => {
      await waitFor(() => p.node.services.pubsub.getSubscribers(REGISTRY_TOPIC).length >= 1, [{ target: p.node.services.pubsub, events: ['subscription-change'] }], 15_000, 'subscribers')
    }))

    const converge = async (expected: Set<string>, what: string): Promise<void> => {
      await Promise.all(live.map(async (p) => {
        const want = [...expected].filter((id) => id !== p.id).sort()
        const view = (): string[] => p.registry.providers().filter((m) => m.source !== 'self').map((m) => m.peerId).sort()
        await waitFor(() => JSON.stringify(view()) === JSON.stringify(want),
          [{ target: p.registry, events: ['provider:added', 'provider:removed', 'provider:updated'] }], 60_000,
          `${what} at ${p.id} (seed ${seed}): has ${view().length}, wants ${want.length}`).catch((err: unknown) => {
          const missing = want.filter((id) => !view().includes(id))
          const nbrs = p.node.getPeers().map(String)
          console.log('not converged: peer', live.indexOf(p), 'misses', missing.map((id) => [live.findIndex((x) => x.id === id), nbrs.includes(id)]), 'nbrs', nbrs.map((id) => live.findIndex((x) => x.id === id)),
            'mesh', (p.node.services.pubsub as unknown as { getMeshPeers: (t: string) => string[] }).getMeshPeers(REGISTRY_TOPIC).map((id) => live.findIndex((x) => x.id === id)), JSON.stringify(p.registry.stats()))
          throw err
        })
      }))
    }

    // round 1: 4 stable peers and all 6 churners provide
    const providers = new Set<string>()
    const round1 = [...stable.slice(0, 4), ...churners]
    await Promise.all(round1.map(async (p, i) => { await publishAs(p, i); providers.add(p.id) }))
    await converge(providers, 'round 1')
    console.log(`churn: set up and round 1 in ${Date.now() - t0} ms`)

    // round 2: 3 churners crash, 1 unpublishes, 2 new peers join and provide, a stable peer starts providing
    const crashed = churners.slice(0, 3)
    for (const c of crashed) {
      await c.stop()
      live.splice(live.indexOf(c), 1)
      providers.delete(c.id)
    }
    await churners[3]!.registry.unpublish()
    providers.delete(churners[3]!.id)
    const joiners = await Promise.all([make(), make()])
    live.push(...joiners)
    await Promise.all(joiners.map(async (j) => {
      await dialInto(j)
      await waitFor(() => j.node.services.pubsub.getSubscribers(REGISTRY_TOPIC).length >= 1, [{ target: j.node.services.pubsub, events: ['subscription-change'] }], 15_000, 'subscribers')
    }))
    await Promise.all([...joiners, stable[10]!].map(async (p, i) => { await publishAs(p, 10 + i); providers.add(p.id) }))
    await converge(providers, 'round 2')

    // round 3: a joiner crashes right after publishing a change; the rest must still agree
    await publishAs(joiners[0], 99)
    await joiners[0].stop()
    live.splice(live.indexOf(joiners[0]), 1)
    providers.delete(joiners[0].id)
    await converge(providers, 'round 3')
    expect(live).toHaveLength(18)
    expect(providers.size).toBe(8)
  }, 240_000)
})
