import { generateKeyPair } from '@libp2p/crypto/keys'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decodeRecord, encodeRecord, recordKey, REGISTRY_TOPIC } from '../../src/index.js'
import { createPeer, routingTable, stopAll, waitFor } from './helpers.js'
import type { TestPeer } from './helpers.js'
import type { Descriptor, RecordRejectedEventDetail } from '../../src/index.js'
import type { PrivateKey } from '@libp2p/interface'

const encoder = new TextEncoder()
const decoder = new TextDecoder()

function descriptor (peerId: string, overrides: Partial<Descriptor> = {}): Descriptor {
  const now = Date.now()
  return {
    v: 1, peerId, multiaddrs: [], seq: now + 1000, issuedAt: now, expiresAt: now + 600_000, heartbeatIntervalMs: 60_000,
    servers: [{ name: 'evil', version: '6.6.6', tools: [{ name: 'read', inputSchemaHash: 'e'.repeat(64) }], resourceTemplates: [], prompts: [] }],
    capabilities: ['cuda'], load: { inFlight: 0, ewmaLatencyMs: 0 }, ...overrides,
  }
}

function tamper (bytes: Uint8Array): Uint8Array {
  const env = JSON.parse(decoder.decode(bytes)) as { descriptor: Descriptor }
  env.descriptor.capabilities = ['tampered']
  return encoder.encode(JSON.stringify(env))
}

function oversized (peerId: string): Descriptor {
  const tools = Array.from({ length: 400 }, (_, i) => ({ name: `t${i}`, description: 'x'.repeat(200), inputSchemaHash: 'b'.repeat(64) }))
  return descriptor(peerId, { servers: [{ name: 'big', version: '1', tools, resourceTemplates: [], prompts: [] }] })
}

describe('bad records are refused by the DHT validator and the gossip validator', () => {
  const peers: TestPeer[] = []
  let victimKey: PrivateKey
  let victim: TestPeer
  let attacker: TestPeer
  let o1: TestPeer
  let o2: TestPeer
  let o3: TestPeer
  let oldRecord: Uint8Array
  let newest: Descriptor

  beforeAll(async () => {
    victimKey = await generateKeyPair('Ed25519')
    victim = await createPeer({ privateKey: victimKey, registry: { heartbeatIntervalMs: 60_000, reannounceDelaysMs: [] } })
    attacker = await createPeer({ registry: { heartbeatIntervalMs: 60_000 } })
    o1 = await createPeer({ registry: { heartbeatIntervalMs: 60_000 } })
    o2 = await createPeer({ registry: { heartbeatIntervalMs: 60_000 } })
    o3 = await createPeer({ registry: { heartbeatIntervalMs: 60_000 } })
    peers.push(victim, attacker, o1, o2, o3)
    for (const [a, b] of [[victim, o1], [attacker, o1], [o1, o2], [o2, o3], [attacker, o2], [victim, o3]] as const) {
      await a.node.dial(b.node.getMultiaddrs())
    }
    await Promise.all(peers.map(async (p) => {
      await waitFor(() => routingTable(p).size >= 2, [{ target: routingTable(p), events: ['peer:add'] }], 10_000, 'routing table')
      await waitFor(() => p.node.services.pubsub.getSubscribers(REGISTRY_TOPIC).length >= 2, [{ target: p.node.services.pubsub, events: ['subscription-change'] }], 10_000, 'subscribers')
    }))
    const input = { servers: [{ name: 'files', version: '1.0.0', tools: [{ name: 'read' }] }], capabilities: ['ssd'] }
    await victim.registry.publish(input)
    const cached = await waitForRecord(victim)
    oldRecord = cached
    newest = (await victim.registry.publish({ ...input, capabilities: ['ssd', 'nvme'] })).descriptor
    await Promise.all([o1, o2, o3, attacker].map(async (p) => {
      await waitFor(() => p.registry.providers().some((m) => m.peerId === victim.id && m.descriptor.seq === newest.seq),
        [{ target: p.registry, events: ['provider:added', 'provider:updated'] }], 10_000, 'newest record')
    }))
  })
  afterAll(async () => { await stopAll(peers) })

  /** The victim's first record, as stored in its own DHT datastore (read back through a DHT get). */
  async function waitForRecord (p: TestPeer): Promise<Uint8Array> {
    return p.node.contentRouting.get(recordKey(p.id), { signal: AbortSignal.timeout(10_000) })
  }

  async function putFromAttacker (value: Uint8Array): Promise<{ stored: number, refused: number }> {
    let stored = 0
    let refused = 0
    for await (const e of attacker.node.services.dht.put(recordKey(victim.id), value, { signal: AbortSignal.timeout(15_000) })) {
      if (e.name === 'PEER_RESPONSE' && e.messageName === 'PUT_VALUE') stored++
      if (e.name === 'QUERY_ERROR') refused++
    }
    return { stored, refused }
  }

  it('DHT: forged, foreign-key, expired, oversized and malformed records are stored nowhere', async () => {
    const attackerKey = await generateKeyPair('Ed25519')
    const now = Date.now()
    const bad: Record<string, Uint8Array> = {
      forged: tamper(await encodeRecord(descriptor(victim.id), victimKey)),
      'another key': await encodeRecord(descriptor(victim.id), attackerKey),
      expired: await encodeRecord(descriptor(victim.id, { issuedAt: now - 20_000, expiresAt: now - 10_000 }), victimKey),
      oversized: await encodeRecord(oversized(victim.id), victimKey),
      malformed: encoder.encode('{"v":1,"descriptor":"nope"}'),
      garbage: new Uint8Array([1, 2, 3, 0xff]),
    }
    for (const [what, value] of Object.entries(bad)) {
      const { stored, refused } = await putFromAttacker(value)
      expect({ what, stored }).toEqual({ what, stored: 0 })
      expect(refused, what).toBeGreaterThan(0)
    }
    for (const p of [o1, o2, o3]) {
      const d = await decodeRecord(await p.node.contentRouting.get(recordKey(victim.id), { signal: AbortSignal.timeout(10_000) }))
      expect(d.seq).toBe(newest.seq)
    }
  })

  it('DHT: a replayed lower sequence is refused by peers holding the newer record and never wins a get', async () => {
    const replayedSeq = (await decodeRecord(oldRecord)).seq
    expect(replayedSeq).toBeLessThan(newest.seq)
    const { refused } = await putFromAttacker(oldRecord)
    expect(refused).toBeGreaterThan(0)
    for (const p of [o1, o2, o3]) {
      const d = await decodeRecord(await p.node.contentRouting.get(recordKey(victim.id), { signal: AbortSignal.timeout(10_000) }))
      expect(d.seq).toBe(newest.seq)
    }
  })

  it('gossip: every kind of bad record is rejected by the receiving peers and never reaches find()', async () => {
    const attackerKey = (attacker.node.services.registrySigner)
    const now = Date.now()
    const rejectedAt = (p: TestPeer, from: string): Promise<RecordRejectedEventDetail> => new Promise((resolve) => {
      const on = (e: CustomEvent<RecordRejectedEventDetail>): void => {
        if (e.detail.from === from) { p.registry.removeEventListener('record:rejected', on); resolve(e.detail) }
      }
      p.registry.addEventListener('record:rejected', on)
    })
    const cases: Array<[string, TestPeer, Uint8Array]> = [
      ['InvalidSignatureError', attacker, tamper(await encodeRecord(descriptor(attacker.id), attackerKey))],
      ['PeerIdMismatchError', attacker, await encodeRecord(descriptor(victim.id), attackerKey)],
      ['RecordExpiredError', attacker, await encodeRecord(descriptor(attacker.id, { issuedAt: now - 20_000, expiresAt: now - 10_000 }), attackerKey)],
      ['RecordTooLargeError', attacker, await encodeRecord(oversized(attacker.id), attackerKey)],
      ['MalformedRecordError', attacker, encoder.encode('not json')],
      ['InvalidDescriptorError', attacker, encoder.encode(JSON.stringify({ v: 1, descriptor: { v: 1, peerId: 7 }, publicKey: 'x', signature: 'y' }))],
      // the victim's own, older record sent again: its neighbours already hold a higher sequence
      ['StaleRecordError', victim, oldRecord],
    ]
    for (const [errorName, sender, bytes] of cases) {
      const at = rejectedAt(o1, sender.id)
      await sender.node.services.pubsub.publish(REGISTRY_TOPIC, bytes)
      const detail = await at
      expect(detail.error, errorName).toBe(errorName)
      expect(detail.via).toBe('gossip')
    }
    for (const p of [o1, o2, o3]) {
      const found = await p.registry.find({ tool: 'read' }, { dht: false })
      expect(found.map((m) => [m.peerId, m.descriptor.seq])).toEqual([[victim.id, newest.seq]])
      expect(p.registry.providers().some((m) => m.peerId === attacker.id)).toBe(false)
    }
  })
})
