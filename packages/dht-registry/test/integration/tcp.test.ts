import { afterAll, describe, expect, it } from 'vitest'
import { connect, createPeer, routingTable, stopAll, waitFor, waitForGossipMesh } from './helpers.js'
import type { TestPeer } from './helpers.js'

describe('on TCP 127.0.0.1', () => {
  const peers: TestPeer[] = []
  afterAll(async () => { await stopAll(peers) })

  it('announces over gossip and finds a late joiner\'s answer through the DHT', async () => {
    for (let i = 0; i < 4; i++) peers.push(await createPeer({ transport: 'tcp', registry: { heartbeatIntervalMs: 60_000, reannounceDelaysMs: [] } }))
    for (const p of peers) expect(p.node.getMultiaddrs()[0]!.toString()).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+/)
    await connect(peers, 2)
    await waitForGossipMesh(peers)
    const provider = peers[0]!
    const published = await provider.registry.publish({ servers: [{ name: 'shell', version: '0.1.0', tools: [{ name: 'exec', annotations: { destructiveHint: true } }] }] })
    await Promise.all(peers.slice(1).map(async (p) => {
      await waitFor(() => p.registry.providers().length === 1, [{ target: p.registry, events: ['provider:added'] }], 10_000, 'gossip over TCP')
    }))
    const found = await peers[3]!.registry.find({ tool: 'exec' })
    // gossip, or anti-entropy when its round came first
    expect(found.map((f) => [f.peerId, f.source === 'sync' ? 'gossip' : f.source])).toEqual([[provider.id, 'gossip']])

    // the DHT part of the publication settles on its own (publish() resolves once announced)
    expect((await published.dht).provided).toBeGreaterThan(0)

    // no anti-entropy: the DHT path is what this checks
    const late = await createPeer({ transport: 'tcp', registry: { antiEntropyIntervalMs: 0 } })
    peers.push(late)
    await late.node.dial(peers[2]!.node.getMultiaddrs())
    await waitFor(() => routingTable(late).size >= 1, [{ target: routingTable(late), events: ['peer:add'] }], 10_000, 'routing table')
    const viaDht = await late.registry.find({ server: 'shell' }, { signal: AbortSignal.timeout(20_000) })
    expect(viaDht.map((f) => [f.peerId, f.source])).toEqual([[provider.id, 'dht']])
  })
})
