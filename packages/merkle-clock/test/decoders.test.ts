import * as dagCbor from '@ipld/dag-cbor'
import fc from 'fast-check'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { describe, expect, it } from 'vitest'
import {
  BlockTooLargeError, InvalidEventError, InvalidHeadsError, MerkleClock, compareCids, decodeEvent, decodeHeads, encodeEvent, encodeHeads, verifyEvent,
} from '../src/index.js'

const NUM_RUNS = Number(process.env.FC_NUM_RUNS ?? 300)
// the cheap byte-level properties run 3x by default; FC_NUM_RUNS sets every property's count exactly (scripts/fuzz.ts)
const FUZZ_RUNS = process.env.FC_NUM_RUNS === undefined ? NUM_RUNS * 3 : NUM_RUNS

function expectTyped (fn: () => unknown, names: string[]): void {
  try {
    fn()
  } catch (err) {
    expect(names, `${(err as Error).name}: ${(err as Error).message}`).toContain((err as Error).name)
  }
}

async function expectTypedAsync (fn: () => Promise<unknown>, names: string[]): Promise<void> {
  try {
    await fn()
  } catch (err) {
    expect(names, `${(err as Error).name}: ${(err as Error).message}`).toContain((err as Error).name)
  }
}

/** Valid event blocks, to mutate. */
const validBlockArb = fc.tuple(fc.jsonValue(), fc.array(fc.string(), { maxLength: 4 })).map(async ([payload, parentNames]) => {
  const parents = await Promise.all(parentNames.map(async (n) => (await encodeEvent(n, [], 1)).cid))
  return encodeEvent(payload, parents, parents.length === 0 ? 1 : 2)
})

const cidOf = (bytes: Uint8Array): CID => CID.createV1(dagCbor.code, sha256.digest(bytes) as Awaited<ReturnType<typeof sha256.digest>>)

describe('decodeEvent', () => {
  it('round-trips what encodeEvent writes', async () => {
    const parent = await encodeEvent('p', [], 1)
    const e = await encodeEvent({ job: 'x', n: 1, bytes: new Uint8Array([1, 2]) }, [parent.cid], 2)
    expect(decodeEvent(e.bytes)).toEqual(e.value)
    expect((await verifyEvent(e.cid, e.bytes)).value).toEqual(e.value)
  })

  it('refuses each malformed shape with InvalidEventError', async () => {
    const p1 = (await encodeEvent('a', [], 1)).cid
    const p2 = (await encodeEvent('b', [], 1)).cid
    const [lo, hi] = [p1, p2].sort(compareCids) as [CID, CID]
    const cases: Array<[string, unknown]> = [
      ['not a map', [1, 2]],
      ['no payload', { parents: [], height: 1 }],
      ['parents not a list', { parents: 'x', payload: 1, height: 1 }],
      ['parent not a CID', { parents: [1], payload: 1, height: 2 }],
      ['height 0', { parents: [], payload: 1, height: 0 }],
      ['height float', { parents: [], payload: 1, height: 1.5 }],
      ['height too big', { parents: [], payload: 1, height: 2n ** 60n }],
      ['root with height 2', { parents: [], payload: 1, height: 2 }],
      ['child with height 1', { parents: [lo], payload: 1, height: 1 }],
      ['duplicate parents', { parents: [lo, lo], payload: 1, height: 2 }],
      ['unsorted parents', { parents: [hi, lo], payload: 1, height: 2 }],
      ['CID used as the event', lo],
    ]
    for (const [name, value] of cases) {
      const bytes = dagCbor.encode(value)
      expect(() => decodeEvent(bytes), name).toThrow(InvalidEventError)
    }
    const v0 = CID.parse('QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n')
    expect(() => decodeEvent(dagCbor.encode({ parents: [v0], payload: 1, height: 2 }))).toThrow(/parent 0/)
    expect(() => decodeEvent(dagCbor.encode({ parents: [lo, hi], payload: 1, height: 2 }), { maxParents: 1 })).toThrow(/maxParents/)
    expect(() => decodeEvent(new Uint8Array(2000), { maxBytes: 1000 })).toThrow(BlockTooLargeError)
    expect(() => decodeEvent(new Uint8Array([0xff]))).toThrow(/dag-cbor/)
  })

  it('decoder fuzz: merkle-clock — arbitrary bytes give an event or a typed error', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      expectTyped(() => decodeEvent(bytes), ['InvalidEventError', 'BlockTooLargeError'])
    }), { numRuns: FUZZ_RUNS })
  })

  it('decoder fuzz: merkle-clock — arbitrary dag-cbor values give an event or a typed error', () => {
    const valueArb = fc.oneof(
      fc.jsonValue(),
      fc.record({ parents: fc.anything(), payload: fc.jsonValue(), height: fc.oneof(fc.integer(), fc.double(), fc.bigInt(), fc.dictionary(fc.constantFrom('toString', 'valueOf', 'x'), fc.integer(), { minKeys: 1 })) }, { requiredKeys: [] }),
    )
    fc.assert(fc.property(valueArb, (value) => {
      let bytes: Uint8Array
      try {
        bytes = dagCbor.encode(value)
      } catch {
        return // not encodable: not a block anyone can send
      }
      expectTyped(() => decodeEvent(bytes), ['InvalidEventError'])
    }), { numRuns: FUZZ_RUNS })
  })

  it('decoder fuzz: merkle-clock — valid blocks with bytes flipped, cut or appended give a typed error or a valid event', async () => {
    await fc.assert(fc.asyncProperty(validBlockArb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
      fc.nat({ max: 3 }), async (blockP, edits, mode) => {
        const block = await blockP
        let bytes = Uint8Array.from(block.bytes)
        if (mode === 0) for (const [i, v] of edits) bytes[i % bytes.length] = v
        else if (mode === 1) bytes = bytes.subarray(0, edits[0]![0] % bytes.length)
        else if (mode === 2) bytes = Uint8Array.from([...bytes, ...edits.map(([, v]) => v)])
        else bytes = Uint8Array.from([...edits.map(([, v]) => v), ...bytes])
        expectTyped(() => decodeEvent(bytes), ['InvalidEventError'])
        // The original CID no longer matches unless the edit was a no-op.
        await expectTypedAsync(async () => verifyEvent(block.cid, bytes), ['InvalidEventError', 'HashMismatchError'])
      }), { numRuns: NUM_RUNS })
  })

  it('does not crash on deeply nested payloads', () => {
    const deep = new Uint8Array(100_000).fill(0x81) // 100k nested one-element arrays
    expectTyped(() => decodeEvent(deep), ['InvalidEventError'])
  })
})

describe('merge against a hostile peer (fuzz)', () => {
  it('blocks that hash correctly but say anything give a typed error, never a crash', async () => {
    const valueArb = fc.oneof(
      fc.jsonValue(),
      fc.record({ parents: fc.array(fc.constantFrom('self', 'random'), { maxLength: 3 }), payload: fc.jsonValue(), height: fc.integer({ min: -1, max: 5 }) }),
    )
    await fc.assert(fc.asyncProperty(valueArb, fc.uint8Array({ maxLength: 64 }), async (value, junk) => {
      const clock = new MerkleClock<unknown>()
      await clock.advance('local')
      let bytes: Uint8Array
      if (typeof value === 'object' && value !== null && 'parents' in value && Array.isArray(value.parents)) {
        const junkCid = cidOf(junk)
        const parents = (value.parents as string[]).map((p) => p === 'self' ? clock.heads[0]! : junkCid)
        bytes = dagCbor.encode({ ...value, parents })
      } else {
        bytes = dagCbor.encode(value)
      }
      const cid = cidOf(bytes)
      const store = new Map([[cid.toString(), bytes], [cidOf(junk).toString(), junk]])
      const before = clock.heads.map(String)
      try {
        await clock.merge([cid], { fetch: (c) => store.get(c.toString()) })
      } catch (err) {
        expect(['InvalidEventError', 'FetchError', 'HashMismatchError', 'BlockTooLargeError'], String(err)).toContain((err as Error).name)
        expect(clock.heads.map(String)).toEqual(before)
      }
    }), { numRuns: NUM_RUNS })
  })
})

describe('heads messages', () => {
  it('round-trip sorted and deduplicated', async () => {
    const cids = await Promise.all(['a', 'b', 'c'].map(async (p) => (await encodeEvent(p, [], 1)).cid))
    const decoded = decodeHeads(encodeHeads([cids[2]!, cids[0]!, cids[1]!, cids[0]!]))
    expect(decoded.map(String).sort()).toEqual(cids.map(String).sort())
    expect(decoded).toHaveLength(3)
    expect(decodeHeads(dagCbor.encode({ v: 1, heads: [], future: 'ignored' }))).toEqual([])
  })

  it('refuse bad messages with InvalidHeadsError', async () => {
    const cid = (await encodeEvent('a', [], 1)).cid
    for (const value of [[], { v: 2, heads: [] }, { heads: [] }, { v: 1, heads: 'x' }, { v: 1, heads: [1] }, cid]) {
      expect(() => decodeHeads(dagCbor.encode(value))).toThrow(InvalidHeadsError)
    }
    expect(() => decodeHeads(encodeHeads([cid]), { maxBytes: 10 })).toThrow(/maxBytes/)
    expect(() => decodeHeads(dagCbor.encode({ v: 1, heads: [cid, cid] }), { maxHeads: 1 })).toThrow(/maxHeads/)
  })

  it('a version or height that is a map whose toString is data is a typed error (found by probing the decoders: String() of it threw TypeError)', () => {
    const evil = { toString: 1, valueOf: 2 }
    expect(() => decodeHeads(dagCbor.encode({ v: evil, heads: [] }))).toThrow(InvalidHeadsError)
    expect(() => decodeEvent(dagCbor.encode({ parents: [], payload: 1, height: evil }))).toThrow(InvalidEventError)
  })

  it('decoder fuzz: merkle-clock — arbitrary bytes give heads or InvalidHeadsError', () => {
    const evil = fc.dictionary(fc.constantFrom('toString', 'valueOf', 'x'), fc.jsonValue({ maxDepth: 1 }), { minKeys: 1 })
    fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 120 }), fc.jsonValue().map((v) => dagCbor.encode({ v: 1, heads: v })), evil.map((v) => dagCbor.encode({ v, heads: [] }))), (bytes) => {
      expectTyped(() => decodeHeads(bytes), ['InvalidHeadsError'])
    }), { numRuns: FUZZ_RUNS })
  })
})
