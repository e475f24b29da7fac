// The event format: signing, checking, unknown fields, size; fuzzing of the decoder and the gossip validator.
import * as dagCbor from '@ipld/dag-cbor'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Message } from '@libp2p/gossipsub'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { encodeEvent } from '@p2p-mcp/merkle-clock'
import fc from 'fast-check'
import { readFileSync } from 'node:fs'
import { beforeAll, describe, expect, it } from 'vitest'
import { checkGossipMessage } from '../../src/events/event-bus.js'
import { meshEventJsonSchema, openEvent, signEvent } from '../../src/events/event-format.js'
import { outcomeTally, typedOutcomeAsync } from '@p2p-mcp/testkit/fuzz'

const numRuns = Number(process.env.FC_NUM_RUNS ?? 300)
const limits = { maxBlockBytes: 80 * 1024, maxEventBytes: 64 * 1024 }
let key: Awaited<ReturnType<typeof generateKeyPair>>
let source: string

async function signed (data: unknown = { n: 1 }, type = 'app.x'): Promise<Record<string, unknown>> {
  return (await signEvent({ event_type: type, event_data: data }, { source, sequence: 1, causality: { [source]: 1 }, now: new Date() }, { sign: (b) => key.sign(b) })).signed
}

function gossip (data: Uint8Array, from = source): Message {
  return { type: 'signed', from: { toString: () => from } as never, topic: 'p2p-mcp/events/1', data, sequenceNumber: 1n, signature: new Uint8Array(), key: key.publicKey }
}

beforeAll(async () => {
  key = await generateKeyPair('Ed25519')
  source = peerIdFromPrivateKey(key).toString()
})

describe('event format', () => {
  it('a signed event opens; a changed field, another source or a large one does not', async () => {
    const s = await signed()
    expect((await openEvent(s)).event_data).toEqual({ n: 1 })
    await expect(openEvent({ ...s, event_data: { n: 2 } })).rejects.toThrow(/signature does not verify/)
    const other = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    await expect(openEvent({ ...s, source: other })).rejects.toThrow(/signature does not verify/)
    await expect(signed({ big: 'x'.repeat(70_000) })).rejects.toMatchObject({ name: 'EventTooLargeError' })
    await expect(openEvent({ ...s, v: 2 })).rejects.toMatchObject({ name: 'InvalidMeshEventError' })
    await expect(signed({}, 'Bad Topic')).rejects.toMatchObject({ name: 'InvalidMeshEventError' })
  })

  it('unknown fields of the same major version are covered by the signature and ignored', async () => {
    const base = await signed()
    const { sig: _sig, ...rest } = base
    const extended = { ...rest, future_field: { x: 1 } }
    const sig = await key.sign(dagCbor.encode(extended))
    const opened = await openEvent({ ...extended, sig })
    expect(opened).not.toHaveProperty('future_field')
    await expect(openEvent({ ...base, future_field: 1 })).rejects.toThrow(/signature/)
  })

  it('the shipped JSON Schema is the one the code describes', () => {
    const shipped = JSON.parse(readFileSync(new URL('../../schemas/mesh-event.schema.json', import.meta.url), 'utf8')) as unknown
    expect(shipped).toEqual(meshEventJsonSchema())
  })

  it('the gossip validator accepts a real event and rejects one relayed under another author', async () => {
    const block = await encodeEvent(await signed(), [], 1)
    expect((await checkGossipMessage(gossip(block.bytes), limits)).event.source).toBe(source)
    await expect(checkGossipMessage(gossip(block.bytes, 'someone-else'), limits)).rejects.toMatchObject({ name: 'InvalidMeshEventError' })
  })

  it('a map whose toString is data is refused with InvalidMeshEventError (found by the decoder fuzz, seed 5: String() of it threw TypeError)', async () => {
    const good = await signed()
    await expect(openEvent({ ...good, v: { toString: 0 } })).rejects.toMatchObject({ name: 'InvalidMeshEventError', message: expect.stringMatching(/format version a map/) as unknown })
    const block = await encodeEvent({ ...good, v: { toString: 0 } }, [], 1)
    await expect(checkGossipMessage(gossip(block.bytes), limits)).rejects.toMatchObject({ name: 'InvalidMeshEventError' })
  })

  it('decoder fuzz: mesh event — the gossip validator and the decoder throw only InvalidMeshEventError on arbitrary input', async () => {
    const tally = outcomeTally('mesh event')
    const good = await signed({ a: [1, 2, 3] })
    const goodBlock = (await encodeEvent(good, [], 1)).bytes
    const mutate = fc.tuple(fc.nat(goodBlock.length - 1), fc.integer({ min: 0, max: 255 })).map(([i, b]) => { const c = goodBlock.slice(); c[i] = b; return c })
    const bytes = fc.oneof(fc.uint8Array({ maxLength: 512 }), mutate, fc.jsonValue().map((v) => dagCbor.encode({ height: 1, parents: [], payload: v })))
    await fc.assert(fc.asyncProperty(bytes, async (data) => {
      let r: Awaited<ReturnType<typeof checkGossipMessage>> | undefined
      tally.add(await typedOutcomeAsync('checkGossipMessage', ['InvalidMeshEventError'], async () => { r = await checkGossipMessage(gossip(data), limits) }))
      if (r !== undefined) expect(r.event.source).toBe(source)
    }), { numRuns })
    const payloads = fc.oneof(fc.anything(), fc.record({ ...Object.fromEntries(Object.entries(good).map(([k, v]) => [k, fc.oneof(fc.constant(v), fc.anything())])) }))
    await fc.assert(fc.asyncProperty(payloads, async (p) => {
      tally.add(`openEvent: ${await typedOutcomeAsync('openEvent', ['InvalidMeshEventError'], async () => openEvent(p))}`)
    }), { numRuns })
    tally.print()
  })
})
