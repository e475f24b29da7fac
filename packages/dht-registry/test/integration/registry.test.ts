import { generateKeyPair } from '@libp2p/crypto/keys'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connect, createPeer, stopAll, waitFor, waitForGossipMesh } from './helpers.js'
import type { TestPeer } from './helpers.js'
import { decodeRecord, recordKey } from '../../src/index.js'
import type { ProviderRemovedEventDetail, PublishInput } from '../../src/index.js'

const HEARTBEAT_MS = 300
const files: PublishInput = {
  servers: [{
    name: 'files',
    version: '1.2.0',
    tools: [{ name: 'read', inputSchema: { type: 'object', properties: { path: { type: 'string' } } }, annotations: { readOnlyHint: true } }],
  }],
  capabilities: ['ssd'],
}

function seenBy (peer: TestPeer, id: string): boolean {
  return peer.registry.providers().some((p) => p.peerId === id)
}

async function seenByAll (peers: TestPeer[], id: string, what: string): Promise<void> {
  await Promise.all(peers.map(async (p) => {
    await waitFor(() => seenBy(p, id), [{ target: p.registry, events: ['provider:added', 'provider:updated'] }], 15_000, `${what} at ${p.id}`)
  }))
}

describe('registry on 6 memory-transport nodes', () => {
  const peers: TestPeer[] = []
  beforeAll(async () => {
    for (let i = 0; i < 6; i++) peers.push(await createPeer({ registry: { heartbeatIntervalMs: HEARTBEAT_MS } }))
    await connect(peers, 2)
    await waitForGossipMesh(peers)
  })
  afterAll(async () => { await stopAll(peers) })

  it('publishes on one node and every other node finds it, ranked, with schema hashes', async () => {
    const [provider, ...others] = peers as [TestPeer, ...TestPeer[]]
    const result = await provider.registry.publish(files)
    expect(result.descriptor.servers[0]!.tools[0]!.inputSchemaHash).toMatch(/^[0-9a-f]{64}$/)
    expect((await result.dht).provided).toBe(3)
    await seenByAll(others, provider.id, 'the provider')
    for (const p of others) {
      const found = await p.registry.find({ tool: 'read' }, { signal: AbortSignal.timeout(5000) })
      // gossip, or anti-entropy when its round came first
      expect(found.map((f) => [f.peerId, f.source === 'sync' ? 'gossip' : f.source])).toEqual([[provider.id, 'gossip']])
      expect(found[0]!.descriptor.servers[0]!.tools[0]!.annotations).toEqual({ readOnlyHint: true })
      expect(await p.registry.find({ tool: 'write' }, { dht: false })).toEqual([])
    }
    // the provider finds itself too, unless told not to
    expect((await provider.registry.find({ tool: 'read' }))[0]!.source).toBe('self')
    expect(await provider.registry.find({ tool: 'read' }, { includeSelf: false, dht: false })).toEqual([])
  })

  it('ranks two providers by capability distance, then load', async () => {
    const [a, b, observer] = [peers[1]!, peers[2]!, peers[5]!]
    a.registry.setLoad({ inFlight: 3, ewmaLatencyMs: 10 })
    await a.registry.publish({ ...files, capabilities: ['cuda', 'ssd'], accessPolicy: { maxConcurrentExecutions: 4 } })
    await b.registry.publish({ ...files, capabilities: ['cuda'], accessPolicy: { maxConcurrentExecutions: 4 } })
    await seenByAll([observer], a.id, 'a')
    await seenByAll([observer], b.id, 'b')
    const wantCuda = await observer.registry.find({ tool: 'read', capabilities: ['cuda'] })
    // b offers exactly cuda (distance 0); a offers cuda and ssd (1); peer 0 offers ssd only (2)
    expect(wantCuda.map((m) => m.peerId)).toEqual([b.id, a.id, peers[0]!.id])
    expect(wantCuda.map((m) => m.score.distance)).toEqual([0, 1, 2])
    const hard = await observer.registry.find({ tool: 'read', requirements: { capabilities: ['cuda', 'ssd'] } })
    expect(hard.map((m) => m.peerId)).toEqual([a.id])
    // no wanted capabilities: every distance is 0, so the idle b comes before a (3 of 4 slots busy)
    const anyCuda = await observer.registry.find({ tool: 'read', requirements: { capabilities: ['cuda'] } })
    expect(anyCuda.map((m) => m.peerId)).toEqual([b.id, a.id])
    expect(anyCuda.map((m) => m.score.load)).toEqual([0, 0.75])
  })

  it('sends updated when what a provider serves changes, not when only its load does', async () => {
    const provider = peers[0]!
    const observer = peers[4]!
    let updates = 0
    const onUpdate = (): void => { updates++ }
    observer.registry.addEventListener('provider:updated', onUpdate)
    try {
      provider.registry.setLoad({ inFlight: 7, ewmaLatencyMs: 12.5 })
      await waitFor(() => observer.registry.providers().find((p) => p.peerId === provider.id)?.descriptor.load.inFlight === 7,
        [{ target: provider.node.services.pubsub, events: ['gossipsub:heartbeat'] }], 10_000, 'load to travel')
      expect(updates).toBe(0)
      const updated = new Promise((resolve) => { observer.registry.addEventListener('provider:updated', resolve, { once: true }) })
      await provider.registry.publish({ ...files, servers: [{ ...files.servers[0]!, version: '1.3.0' }] })
      await updated
      expect(observer.registry.providers().find((p) => p.peerId === provider.id)?.descriptor.servers[0]!.version).toBe('1.3.0')
    } finally {
      observer.registry.removeEventListener('provider:updated', onUpdate)
    }
  })

  it('removes a provider that unpublishes', async () => {
    const provider = peers[2]!
    const observer = peers[3]!
    const removed = new Promise<ProviderRemovedEventDetail>((resolve) => {
      const on = (e: CustomEvent<ProviderRemovedEventDetail>): void => {
        if (e.detail.peerId === provider.id) { observer.registry.removeEventListener('provider:removed', on); resolve(e.detail) }
      }
      observer.registry.addEventListener('provider:removed', on)
    })
    await provider.registry.unpublish()
    expect((await removed).reason).toBe('withdrawn')
    expect(seenBy(observer, provider.id)).toBe(false)
  })

  it('drops a peer stopped without unpublishing within 3 heartbeats', async () => {
    const victim = peers[1]!
    const observers = [peers[0]!, peers[3]!, peers[4]!, peers[5]!]
    await seenByAll(observers, victim.id, 'victim')
    const gone = observers.map(async (o) => await new Promise<{ reason: string, at: number }>((resolve) => {
      const on = (e: CustomEvent<ProviderRemovedEventDetail>): void => {
        if (e.detail.peerId === victim.id) { o.registry.removeEventListener('provider:removed', on); resolve({ reason: e.detail.reason, at: Date.now() }) }
      }
      o.registry.addEventListener('provider:removed', on)
    }))
    const stoppedAt = Date.now()
    await victim.stop()
    peers.splice(1, 1)
    const results = await Promise.all(gone)
    for (const r of results) {
      expect(r.reason).toBe('missed-heartbeats')
      // the last heartbeat may have left up to one interval before the stop; the sweep runs every interval/4
      expect(r.at - stoppedAt).toBeLessThanOrEqual(3 * HEARTBEAT_MS + HEARTBEAT_MS / 4 + 200)
    }
  })
})

describe('a restarted peer', () => {
  const peers: TestPeer[] = []
  afterAll(async () => { await stopAll(peers) })

  it('replaces its old record, since sequence numbers are time-based', async () => {
    const key = await generateKeyPair('Ed25519')
    for (let i = 0; i < 3; i++) peers.push(await createPeer({ registry: { heartbeatIntervalMs: 5_000 } }))
    const first = await createPeer({ privateKey: key, registry: { heartbeatIntervalMs: 5_000 } })
    peers.push(first)
    await connect(peers, 2)
    await waitForGossipMesh(peers)
    const before = await first.registry.publish(files)
    await seenByAll(peers.slice(0, 3), first.id, 'first incarnation')
    await first.stop()
    peers.pop()

    const second = await createPeer({ privateKey: key, registry: { heartbeatIntervalMs: 5_000 } })
    peers.push(second)
    expect(second.id).toBe(first.id)
    await second.node.dial(peers[0]!.node.getMultiaddrs())
    await waitForGossipMesh([second])
    await waitFor(() => peers[0]!.node.services.pubsub.getSubscribers('p2p-mcp/registry/1').some((p) => p.toString() === second.id),
      [{ target: peers[0]!.node.services.pubsub, events: ['subscription-change'] }], 10_000, 'resubscription')
    const observer = peers[1]!
    // the first incarnation may already be gone from the observer's view (its connections closed): added or updated
    const updated = new Promise<void>((resolve) => {
      observer.registry.addEventListener('provider:updated', (e) => { if (e.detail.peerId === second.id) resolve() })
      observer.registry.addEventListener('provider:added', (e) => { if (e.detail.peerId === second.id) resolve() })
    })
    const after = await second.registry.publish({ ...files, servers: [{ ...files.servers[0]!, version: '2.0.0' }] })
    expect(after.descriptor.seq).toBeGreaterThan(before.descriptor.seq)
    await updated
    const found = await observer.registry.find({ tool: 'read' })
    expect(found.map((f) => [f.peerId, f.descriptor.servers[0]!.version])).toEqual([[second.id, '2.0.0']])
  })
})

describe('republishing', () => {
  const peers: TestPeer[] = []
  afterAll(async () => { await stopAll(peers) })

  it('puts the record into the DHT again before it expires, with the latest sequence', async () => {
    const provider = await createPeer({ registry: { heartbeatIntervalMs: 200, recordTtlMs: 3_000, republishIntervalMs: 400 } })
    const other = await createPeer()
    peers.push(provider, other)
    await connect(peers, 1)
    await waitForGossipMesh(peers)
    const first = await provider.registry.publish(files)
    const putsAfterPublish = provider.registry.stats().dhtPuts
    await waitFor(() => provider.registry.stats().dhtPuts >= putsAfterPublish + 2,
      [{ target: provider.node.services.pubsub, events: ['gossipsub:heartbeat'] }], 10_000, 'two republishes')
    const stored = await decodeRecord(await other.node.contentRouting.get(recordKey(provider.id), { signal: AbortSignal.timeout(5_000) }))
    expect(stored.seq).toBeGreaterThan(first.descriptor.seq)
    expect(stored.expiresAt).toBeGreaterThan(first.descriptor.expiresAt)
  })
})

describe('bad input to publish()', () => {
  const peers: TestPeer[] = []
  afterAll(async () => { await stopAll(peers) })

  it('throws a typed error and keeps the previous publication', async () => {
    const p = await createPeer()
    peers.push(p)
    await expect(p.registry.find({ tool: 'read' })).resolves.toEqual([])
    await p.registry.publish(files)
    await expect(p.registry.publish({ ...files, capabilities: ['has space'] })).rejects.toThrowError(expect.objectContaining({ name: 'InvalidDescriptorError' }) as Error)
    await expect(p.registry.publish({ servers: [{ name: 'x', version: '1', tools: [{ name: 't', inputSchema: { n: Number.NaN } }] }] }))
      .rejects.toThrowError(expect.objectContaining({ name: 'CanonicalJsonError' }) as Error)
    await expect(p.registry.find({ tool: 'read' }, { limit: 0 })).rejects.toThrowError(expect.objectContaining({ name: 'InvalidParametersError' }) as Error)
    expect(p.registry.descriptor?.capabilities).toEqual(['ssd'])
    expect((await p.registry.find({ tool: 'read' })).map((m) => m.source)).toEqual(['self'])
    await p.registry.stop()
    await p.registry.stop()
    await expect(p.registry.find({ tool: 'read' })).rejects.toThrowError(expect.objectContaining({ name: 'RegistryNotStartedError' }) as Error)
  })
})
