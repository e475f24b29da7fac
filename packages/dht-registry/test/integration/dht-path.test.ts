import { afterAll, describe, expect, it } from 'vitest'
import { REGISTRY_TOPIC } from '../../src/index.js'
import { connect, createPeer, routingTable, stopAll, waitFor, waitForGossipMesh } from './helpers.js'
import type { TestPeer } from './helpers.js'

describe('a peer that joins after the announcement', () => {
  const peers: TestPeer[] = []
  afterAll(async () => { await stopAll(peers) })

  it('finds the provider through the DHT', async () => {
    // a long heartbeat: the late joiner must not hear the provider on gossip before it asks
    // and no re-announcements after publish (they are gossip the late joiner would hear)
    for (let i = 0; i < 8; i++) peers.push(await createPeer({ registry: { heartbeatIntervalMs: 60_000, reannounceDelaysMs: [] } }))
    await connect(peers, 3)
    await waitForGossipMesh(peers)
    const provider = peers[0]!
    const published = await provider.registry.publish({
      servers: [{ name: 'gpu-tools', version: '1.0.0', tools: [{ name: 'render', inputSchema: { type: 'object' } }] }],
      capabilities: ['cuda'],
    })
    const dht = await published.dht
    expect(dht.stored).toBeGreaterThan(0)
    expect(dht.provided).toBe(3)

    // no anti-entropy either: it would bring the provider's record in one round trip (that path has its own tests)
    const late = await createPeer({ registry: { heartbeatIntervalMs: 60_000, antiEntropyIntervalMs: 0 } })
    peers.push(late)
    let gossipFromProvider = 0
    late.node.services.pubsub.addEventListener('message', (e) => {
      if (e.detail.topic === REGISTRY_TOPIC && e.detail.type === 'signed' && e.detail.from.toString() === provider.id) gossipFromProvider++
    })
    // the late joiner dials one peer that is not the provider
    await late.node.dial(peers[5]!.node.getMultiaddrs())
    await waitFor(() => routingTable(late).size >= 1, [{ target: routingTable(late), events: ['peer:add'] }], 10_000, 'routing table')
    expect(late.registry.providers()).toEqual([])

    const found = await late.registry.find({ tool: 'render' }, { signal: AbortSignal.timeout(20_000) })
    expect(gossipFromProvider).toBe(0)
    expect(found.map((f) => [f.peerId, f.source])).toEqual([[provider.id, 'dht']])
    expect(found[0]!.descriptor.capabilities).toEqual(['cuda'])
    const stats = late.registry.stats()
    expect(stats.dhtFinds).toBe(1)
    expect(stats.dhtGets).toBeGreaterThanOrEqual(1)
    expect(stats.gossipAccepted).toBe(0)

    // now it is cached: the next find does not touch the DHT, and a capability lookup works too
    expect((await late.registry.find({ tool: 'render' })).map((f) => f.source)).toEqual(['dht'])
    expect(late.registry.stats().dhtFinds).toBe(1)
    const byServer = peers[7]!
    expect((await byServer.registry.find({ server: 'gpu-tools' }, { dht: false })).map((f) => f.peerId)).toEqual([provider.id])
  })

  it('finds by capability through the DHT and returns nothing for unknown keys', async () => {
    const late = await createPeer()
    peers.push(late)
    await late.node.dial(peers[3]!.node.getMultiaddrs())
    await waitFor(() => routingTable(late).size >= 1, [{ target: routingTable(late), events: ['peer:add'] }], 10_000, 'routing table')
    const found = await late.registry.find({ requirements: { capabilities: ['cuda'] } }, { signal: AbortSignal.timeout(20_000) })
    expect(found.map((f) => f.peerId)).toEqual([peers[0]!.id])
    expect(await late.registry.find({ tool: 'no-such-tool' }, { signal: AbortSignal.timeout(20_000) })).toEqual([])
  })
})
