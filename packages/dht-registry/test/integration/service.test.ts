import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { memory } from '@libp2p/memory'
import { createLibp2p } from 'libp2p'
import { afterEach, describe, expect, it } from 'vitest'
import { registry, registryServices, serverFromListing } from '../../src/index.js'
import { waitFor } from './helpers.js'

let counter = 0
const nodes: Array<{ stop: () => void | Promise<void> }> = []

async function serviceNode () {
  const node = await createLibp2p({
    addresses: { listen: [`/memory/dht-registry-service-${process.pid}-${++counter}`] },
    transports: [memory()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { ...registryServices({ pubsub: { heartbeatInterval: 200 } }), registry: registry({ heartbeatIntervalMs: 500 }) },
  })
  nodes.push(node)
  return node
}

afterEach(async () => { await Promise.all(nodes.splice(0).map(async (n) => { await n.stop() })) })

describe('the registry as a libp2p service', () => {
  it('starts with the node, signs with its key, publishes before the DHT part ends, and stops with it', async () => {
    const a = await serviceNode()
    const b = await serviceNode()
    await a.dial(b.getMultiaddrs())
    const listing = {
      serverInfo: { version: '1.0.0', title: 't'.repeat(3000) },
      tools: [{ name: 'read', inputSchema: { type: 'object' }, annotations: { readOnlyHint: true, title: 'not a hint' } }],
      resources: [{ name: 'cfg', uri: 'config://x' }],
      resourceTemplates: [],
      prompts: [{ name: 'review', arguments: [{ name: 'code', required: true }] }],
    }
    const server = serverFromListing('files', listing)
    expect(server.title).toHaveLength(2048)
    expect(server.tools?.[0]?.annotations).toEqual({ readOnlyHint: true })
    expect(server.resourceTemplates).toEqual([{ name: 'cfg', uriTemplate: 'config://x' }])
    const aRegistry = a.services.registry
    const published = await aRegistry.publish({ servers: [server] })
    // resolved once signed and announced: the descriptor is there, the DHT part is reported apart
    expect(aRegistry.descriptor).toBe(published.descriptor)
    expect(published.descriptor.peerId).toBe(a.peerId.toString())
    await waitFor(() => b.services.registry.providers().some((p) => p.peerId === a.peerId.toString()),
      [{ target: b.services.registry, events: ['provider:added'] }], 10_000, 'b to hear a')
    const dht = await published.dht
    expect(dht.provided + dht.provideFailed).toBe(2) // server/files and tool/read
    await a.stop()
    await expect(aRegistry.publish({ servers: [] })).rejects.toThrowError(expect.objectContaining({ name: 'RegistryNotStartedError' }) as Error)
  })
})
