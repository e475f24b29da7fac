import { afterAll, describe, expect, it } from 'vitest'
import { connect, createPeer, stopAll, waitFor, waitForGossipMesh } from './helpers.js'
import type { TestPeer } from './helpers.js'

describe('smoke', () => {
  const peers: TestPeer[] = []
  afterAll(async () => { await stopAll(peers) })

  it('publishes on one node and finds from the others', async () => {
    for (let i = 0; i < 5; i++) peers.push(await createPeer())
    await connect(peers, 2)
    await waitForGossipMesh(peers)
    const t0 = Date.now()
    const res = await peers[0]!.registry.publish({ servers: [{ name: 'files', version: '1.0.0', tools: [{ name: 'read', inputSchema: { type: 'object' } }] }], capabilities: ['ssd'] })
    console.log('publish', Date.now() - t0, res.dhtStored, res.dhtFailed, res.provided, res.provideFailed)
    for (const p of peers.slice(1)) {
      await waitFor(() => p.registry.providers().length > 0, [{ target: p.registry, events: ['provider:added'] }], 10_000, 'added')
      const found = await p.registry.find({ tool: 'read' })
      expect(found.map((f) => f.peerId)).toEqual([peers[0]!.id])
    }
  })
})
