import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  decodeRecord, encodeRecord, InvalidSignatureError, MalformedRecordError, PeerIdMismatchError, RecordExpiredError,
  RecordTooLargeError, recordKey, registrySelector, registryValidator, StaleRecordError, UnsupportedVersionError,
  InvalidDescriptorError,
} from '../src/index.js'
import { outcomeTally, typedOutcome, typedOutcomeAsync } from '@p2p-mcp/testkit/fuzz'
import { decodeObituary } from '../src/obituary.js'
import { parseSyncMessage } from '../src/anti-entropy.js'
import { ServerEntrySchema } from '../src/descriptor.js'
import { descriptorFor, keyAndId } from './fixtures.js'

const numRuns = Number(process.env.FC_NUM_RUNS ?? 300)
const TYPED = new Set(['MalformedRecordError', 'UnsupportedVersionError', 'InvalidDescriptorError', 'InvalidSignatureError',
  'PeerIdMismatchError', 'RecordExpiredError', 'RecordTooLargeError'])
const encoder = new TextEncoder()
const decoder = new TextDecoder()
/** JSON whose toString and valueOf are data: String() of it throws. */
const evil = fc.dictionary(fc.constantFrom('toString', 'valueOf', 'constructor', '__proto__', 'x'), fc.jsonValue({ maxDepth: 1 }), { minKeys: 1 })

function envelopeOf (bytes: Uint8Array): Record<string, unknown> & { descriptor: Record<string, unknown> } {
  return JSON.parse(decoder.decode(bytes)) as Record<string, unknown> & { descriptor: Record<string, unknown> }
}

describe('records', () => {
  it('round-trips a signed descriptor', async () => {
    const { key, id } = await keyAndId()
    const d = descriptorFor(id)
    const bytes = await encodeRecord(d, key)
    expect(await decodeRecord(bytes, { expectedPeerId: id })).toEqual(d)
  })

  it('keeps unknown fields under the signature and drops them from the result', async () => {
    const { key, id } = await keyAndId()
    const d = { ...descriptorFor(id), futureField: { x: 1 } }
    const bytes = await encodeRecord(d, key)
    const out = await decodeRecord(bytes)
    expect(out).not.toHaveProperty('futureField')
    const env = envelopeOf(bytes)
    env.descriptor.futureField = { x: 2 }
    await expect(decodeRecord(encoder.encode(JSON.stringify(env)))).rejects.toThrow(InvalidSignatureError)
  })

  it('carries a server\'s access policy under the signature; a reader of the first release (no such field) still verifies the record', async () => {
    const { key, id } = await keyAndId()
    const base = descriptorFor(id)
    const d = { ...base, servers: base.servers.map((s) => ({ ...s, accessPolicy: { requestsPerMinute: 60, burst: 5, maxConcurrentExecutions: 5 } })) }
    const bytes = await encodeRecord(d, key)
    expect((await decodeRecord(bytes)).servers[0]?.accessPolicy).toEqual({ requestsPerMinute: 60, burst: 5, maxConcurrentExecutions: 5 })
    // The first release's server entry had no accessPolicy: its schema strips it after checking the signature over the record as sent.
    const firstRelease = ServerEntrySchema.omit({ accessPolicy: true })
    const env = envelopeOf(bytes)
    const servers = (env.descriptor.servers as unknown[]).map((s) => firstRelease.parse(s))
    expect(servers[0]).not.toHaveProperty('accessPolicy')
    // Changing it breaks the signature: a relay cannot loosen a server's limits.
    ;(env.descriptor.servers as Array<{ accessPolicy: { requestsPerMinute: number } }>)[0]!.accessPolicy.requestsPerMinute = 6000
    await expect(decodeRecord(encoder.encode(JSON.stringify(env)))).rejects.toThrow(InvalidSignatureError)
  })

  it('rejects a forged signature', async () => {
    const { key, id } = await keyAndId()
    const env = envelopeOf(await encodeRecord(descriptorFor(id), key))
    env.descriptor.capabilities = ['cuda']
    await expect(decodeRecord(encoder.encode(JSON.stringify(env)))).rejects.toThrow(InvalidSignatureError)
  })

  it('rejects a descriptor signed with another peer\'s key', async () => {
    const victim = await keyAndId()
    const attacker = await keyAndId()
    const bytes = await encodeRecord(descriptorFor(victim.id), attacker.key)
    await expect(decodeRecord(bytes)).rejects.toThrow(PeerIdMismatchError)
    const own = await encodeRecord(descriptorFor(attacker.id), attacker.key)
    await expect(decodeRecord(own, { expectedPeerId: victim.id })).rejects.toThrow(PeerIdMismatchError)
  })

  it('rejects expired records and records from the future', async () => {
    const { key, id } = await keyAndId()
    const now = Date.now()
    const expired = await encodeRecord(descriptorFor(id, { issuedAt: now - 10_000, expiresAt: now - 1 }), key)
    await expect(decodeRecord(expired)).rejects.toThrow(RecordExpiredError)
    const future = await encodeRecord(descriptorFor(id, { issuedAt: now + 3_600_000, expiresAt: now + 7_200_000 }), key)
    await expect(decodeRecord(future)).rejects.toThrow(RecordExpiredError)
  })

  it('rejects oversized records before parsing them', async () => {
    const { key, id } = await keyAndId()
    const tools = Array.from({ length: 400 }, (_, i) => ({ name: `tool-${i}`, description: 'x'.repeat(200), inputSchemaHash: 'b'.repeat(64) }))
    const bytes = await encodeRecord(descriptorFor(id, { servers: [{ name: 's', version: '1', tools, resourceTemplates: [], prompts: [] }] }), key)
    expect(bytes.byteLength).toBeGreaterThan(64 * 1024)
    await expect(decodeRecord(bytes)).rejects.toThrow(RecordTooLargeError)
    await expect(decodeRecord(bytes, { maxRecordBytes: 1 << 20 })).resolves.toMatchObject({ peerId: id })
  })

  it('rejects malformed envelopes and other versions with typed errors', async () => {
    const { key, id } = await keyAndId()
    const good = envelopeOf(await encodeRecord(descriptorFor(id), key))
    await expect(decodeRecord(new Uint8Array([0xff, 0xfe]))).rejects.toThrow(MalformedRecordError)
    await expect(decodeRecord(encoder.encode('[1]'))).rejects.toThrow(MalformedRecordError)
    await expect(decodeRecord(encoder.encode(JSON.stringify({ ...good, v: 2 })))).rejects.toThrow(UnsupportedVersionError)
    await expect(decodeRecord(encoder.encode(JSON.stringify({ ...good, publicKey: '!!' })))).rejects.toThrow(MalformedRecordError)
    await expect(decodeRecord(encoder.encode(JSON.stringify({ ...good, publicKey: 'AAAA' })))).rejects.toThrow(MalformedRecordError)
    await expect(decodeRecord(encoder.encode(JSON.stringify({ ...good, descriptor: { ...good.descriptor, seq: -1 } })))).rejects.toThrow(InvalidDescriptorError)
    await expect(decodeRecord(encoder.encode(JSON.stringify({ ...good, descriptor: { ...good.descriptor, v: 9 } })))).rejects.toThrow(UnsupportedVersionError)
  })

  it('decoder fuzz: registry record (bytes) — arbitrary bytes only ever produce typed errors', async () => {
    const tally = outcomeTally('registry record (bytes)')
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 2048 }), async (bytes) => {
      tally.add(await typedOutcomeAsync('decodeRecord', [...TYPED], async () => decodeRecord(bytes)))
    }), { numRuns })
    tally.print()
  })

  it('decoder fuzz: registry record (JSON envelopes) — arbitrary JSON envelopes only ever produce typed errors', async () => {
    const tally = outcomeTally('registry record (JSON envelopes)')
    const { key, id } = await keyAndId()
    const good = envelopeOf(await encodeRecord(descriptorFor(id), key))
    const envelope = fc.record({
      v: fc.oneof(fc.constant(1), fc.jsonValue(), evil),
      descriptor: fc.oneof(fc.constant(good.descriptor), fc.jsonValue(), evil, fc.dictionary(fc.constantFrom(...Object.keys(good.descriptor)), fc.jsonValue())),
      publicKey: fc.oneof(fc.constant(good.publicKey), fc.string(), fc.jsonValue()),
      signature: fc.oneof(fc.constant(good.signature), fc.base64String(), fc.jsonValue()),
    }, { requiredKeys: [] })
    await fc.assert(fc.asyncProperty(envelope, async (env) => {
      let out: unknown
      tally.add(await typedOutcomeAsync('decodeRecord', [...TYPED], async () => { out = await decodeRecord(encoder.encode(JSON.stringify(env))) }))
      if (out !== undefined) expect(JSON.stringify(env)).toBe(JSON.stringify(good))
    }), { numRuns })
    tally.print()
  })

  it('decoder fuzz: registry record (mutated) — a signed record with bytes changed is refused or decodes to the same descriptor', async () => {
    const tally = outcomeTally('registry record (mutated)')
    const { key, id } = await keyAndId()
    const d = descriptorFor(id)
    const bytes = await encodeRecord(d, key)
    await fc.assert(fc.asyncProperty(fc.array(fc.record({ at: fc.nat(bytes.length - 1), xor: fc.integer({ min: 1, max: 255 }) }), { minLength: 1, maxLength: 3 }), async (muts) => {
      const mutated = bytes.slice()
      for (const { at, xor } of muts) mutated[at] = mutated[at]! ^ xor
      let out: unknown
      tally.add(await typedOutcomeAsync('decodeRecord', [...TYPED], async () => { out = await decodeRecord(mutated) }))
      // whitespace-equivalent or base64url-padding changes may still verify; the descriptor may not change
      if (out !== undefined) expect(out).toEqual(d)
    }), { numRuns })
    tally.print()
  })

  it('decoder fuzz: gossip message — obituaries, records and junk on the registry topic give typed errors only', async () => {
    const tally = outcomeTally('gossip message')
    const { key, id } = await keyAndId()
    const record = await encodeRecord(descriptorFor(id), key)
    const obituary = fc.record({ v: fc.oneof(fc.constant(1), fc.jsonValue()), obituary: fc.oneof(fc.record({ peerId: fc.oneof(fc.constant(id), fc.string(), fc.jsonValue()), seq: fc.oneof(fc.nat(), fc.double(), fc.jsonValue()) }, { requiredKeys: [] }), fc.jsonValue()) }, { requiredKeys: ['obituary'] })
      .map((o) => encoder.encode(JSON.stringify(o)))
    const mutatedRecord = fc.tuple(fc.nat(record.length - 1), fc.integer({ min: 1, max: 255 }), fc.nat(record.length)).map(([at, xor, cut]) => {
      const m = record.slice(0, Math.max(1, cut))
      if (at < m.length) m[at] = m[at]! ^ xor
      return m
    })
    const data = fc.oneof(fc.uint8Array({ maxLength: 1024 }), obituary, mutatedRecord, fc.jsonValue().map((v) => encoder.encode(JSON.stringify(v) ?? 'null')))
    await fc.assert(fc.asyncProperty(data, async (bytes) => {
      // what the registry's gossip validator does with msg.data: an obituary, else a record of its signer
      tally.add(await typedOutcomeAsync('gossip validator decoders', [...TYPED], async () => {
        if (decodeObituary(bytes) === undefined) await decodeRecord(bytes, { expectedPeerId: id })
      }))
    }), { numRuns })
    tally.print()
  })

  it('a sync message whose version is an object with a toString key is a MalformedRecordError (found by probing the decoders: String() of it threw TypeError)', () => {
    expect(() => parseSyncMessage(encoder.encode('{"v":{"toString":1,"valueOf":2}}'), 'sync request')).toThrow(MalformedRecordError)
  })

  it('decoder fuzz: registry-sync message — requests and response headers give an object or MalformedRecordError', () => {
    const tally = outcomeTally('registry-sync message')
    const message = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc.record({ v: fc.oneof(fc.constant(1), fc.jsonValue(), evil), digest: fc.oneof(fc.string(), fc.jsonValue()), same: fc.jsonValue(), count: fc.oneof(fc.integer(), fc.jsonValue(), evil) }, { requiredKeys: [] })
        .map((m) => encoder.encode(JSON.stringify(m))),
      fc.jsonValue().map((v) => encoder.encode(JSON.stringify(v) ?? 'null')),
    )
    fc.assert(fc.property(message, fc.constantFrom('sync request', 'sync response'), (bytes, what) => {
      tally.add(typedOutcome('parseSyncMessage', ['MalformedRecordError'], () => parseSyncMessage(bytes, what)))
    }), { numRuns })
    tally.print()
  })
})

describe('DHT validator and selector', () => {
  it('accepts a good record under its own key only', async () => {
    const a = await keyAndId()
    const b = await keyAndId()
    const validate = registryValidator()
    const bytes = await encodeRecord(descriptorFor(a.id), a.key)
    await expect(validate(recordKey(a.id), bytes)).resolves.toBeUndefined()
    await expect(validate(recordKey(b.id), bytes)).rejects.toThrow(PeerIdMismatchError)
    await expect(validate(encoder.encode(`/other/${a.id}`), bytes)).rejects.toThrow(MalformedRecordError)
  })

  it('refuses a replayed lower sequence and accepts the same or a higher one', async () => {
    const a = await keyAndId()
    const validate = registryValidator()
    const now = Date.now()
    const older = await encodeRecord(descriptorFor(a.id, { seq: now - 5 }, now), a.key)
    const newer = await encodeRecord(descriptorFor(a.id, { seq: now }, now), a.key)
    await validate(recordKey(a.id), newer)
    await expect(validate(recordKey(a.id), newer)).resolves.toBeUndefined()
    await expect(validate(recordKey(a.id), older)).rejects.toThrow(StaleRecordError)
  })

  it('selects the valid record with the highest sequence', async () => {
    const a = await keyAndId()
    const b = await keyAndId()
    const now = Date.now()
    const select = registrySelector()
    const r1 = await encodeRecord(descriptorFor(a.id, { seq: now - 10 }, now), a.key)
    const r2 = await encodeRecord(descriptorFor(a.id, { seq: now }, now), a.key)
    const forged = await encodeRecord(descriptorFor(a.id, { seq: now + 10 }, now), b.key)
    expect(await select(recordKey(a.id), [r1, forged, r2])).toBe(2)
    expect(await select(recordKey(a.id), [r2, r1])).toBe(0)
  })
})
