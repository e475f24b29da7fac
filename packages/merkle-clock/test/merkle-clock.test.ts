import * as dagCbor from '@ipld/dag-cbor'
import fc from 'fast-check'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { describe, expect, it } from 'vitest'
import {
  BlockTooLargeError, FetchError, HashMismatchError, InvalidEventError, MemoryBlockStore, MerkleClock,
  TooManyEventsError, UnknownEventError, UnsupportedCidError, compareCids, encodeEvent, type FetchBlock,
} from '../src/index.js'

const NUM_RUNS = Number(process.env.FC_NUM_RUNS ?? 100)

/** A fetch served from another clock's store that counts what it serves. */
function fetchFrom (clock: MerkleClock<unknown>): FetchBlock & { calls: number } {
  const f = async (cid: CID): Promise<Uint8Array | undefined> => {
    f.calls++
    return clock.store.get(cid)
  }
  f.calls = 0
  return f
}

const keys = (cids: CID[]): string[] => cids.map((c) => c.toString())

/** Heads are an antichain: no head is an ancestor of another. */
async function expectAntichain (clock: MerkleClock<unknown>): Promise<void> {
  const heads = clock.heads
  for (const x of heads) for (const y of heads) if (x !== y) expect(await clock.compare(x, y)).toBe('concurrent')
}

async function payloads (clock: MerkleClock<unknown>): Promise<unknown[]> {
  const out: unknown[] = []
  for await (const e of clock.events()) out.push(e.value.payload)
  return out
}

describe('MerkleClock basics', () => {
  it('advance links the new event to the heads and replaces them', async () => {
    const clock = new MerkleClock<string>()
    expect(clock.heads).toEqual([])
    const e1 = await clock.advance('one')
    expect(e1.value).toEqual({ parents: [], payload: 'one', height: 1 })
    const e2 = await clock.advance('two')
    expect(e2.value.parents.map(String)).toEqual([e1.cid.toString()])
    expect(e2.value.height).toBe(2)
    expect(keys(clock.heads)).toEqual([e2.cid.toString()])
    expect(await clock.get(e1.cid)).toEqual(e1.value)
    expect(e2.cid.code).toBe(dagCbor.code)
    expect(e2.cid.multihash.code).toBe(sha256.code)
  })

  it('merging a descendant replaces the head; merging an ancestor changes nothing', async () => {
    const a = new MerkleClock<string>()
    await a.advance('1')
    const b = new MerkleClock<string>()
    await b.merge(a.heads, { fetch: fetchFrom(a) })
    const old = a.heads
    await a.advance('2')
    await b.merge(a.heads, { fetch: fetchFrom(a) })
    expect(keys(b.heads)).toEqual(keys(a.heads))
    await b.merge(old)
    expect(keys(b.heads)).toEqual(keys(a.heads))
    await b.merge([...old, ...a.heads])
    expect(keys(b.heads)).toEqual(keys(a.heads))
  })

  it('compare orders events by reachability', async () => {
    const a = new MerkleClock<string>()
    const root = await a.advance('root')
    const b = new MerkleClock<string>()
    await b.merge(a.heads, { fetch: fetchFrom(a) })
    const x = await a.advance('x')
    const y = await b.advance('y')
    await a.merge(b.heads, { fetch: fetchFrom(b) })
    expect(a.heads).toHaveLength(2)
    const z = await a.advance('z')
    expect(z.value.parents).toHaveLength(2)
    expect(await a.compare(root.cid, z.cid)).toBe('before')
    expect(await a.compare(z.cid, root.cid)).toBe('after')
    expect(await a.compare(x.cid, y.cid)).toBe('concurrent')
    expect(await a.compare(x.cid, x.cid)).toBe('equal')
    await expect(b.compare(z.cid, root.cid)).rejects.toThrow(UnknownEventError)
  })

  it('iterates in causal order, the same on every replica', async () => {
    const a = new MerkleClock<number>()
    const b = new MerkleClock<number>()
    await a.advance(0)
    await b.merge(a.heads, { fetch: fetchFrom(a) })
    for (let i = 1; i <= 3; i++) await a.advance(i)
    for (let i = 10; i <= 12; i++) await b.advance(i)
    await a.merge(b.heads, { fetch: fetchFrom(b) })
    await b.merge(a.heads, { fetch: fetchFrom(a) })
    const seq = await payloads(a)
    expect(await payloads(b)).toEqual(seq)
    expect(seq[0]).toBe(0)
    expect(seq.filter((p) => (p as number) < 10)).toEqual([0, 1, 2, 3])
    expect(seq.filter((p) => (p as number) >= 10)).toEqual([10, 11, 12])
  })

  it('reopens from a durable store and saved heads', async () => {
    const store = new MemoryBlockStore()
    const a = new MerkleClock<string>({ store })
    for (const p of ['a', 'b', 'c']) await a.advance(p)
    const reopened = new MerkleClock<string>({ store, heads: a.heads })
    expect(await payloads(reopened)).toEqual(['a', 'b', 'c'])
    const d = await reopened.advance('d')
    expect(d.value.height).toBe(4)
  })

  it('finds the right heads when the store is shared with another clock', async () => {
    const shared = new MemoryBlockStore()
    const a = new MerkleClock<string>({ store: shared })
    const h = await a.advance('x')
    const b = new MerkleClock<string>({ store: shared, heads: [h.cid] })
    await a.advance('y')
    await a.advance('z') // in the shared store, unknown to b's heads
    const c = new MerkleClock<string>()
    await c.merge(a.heads, { fetch: (cid) => shared.get(cid) })
    const r = await c.advance('w')
    const res = await b.merge(c.heads, { fetch: (cid) => c.store.get(cid) })
    expect(res.added.map(String)).toEqual([r.cid.toString()]) // z was in the store already
    expect(keys(b.heads)).toEqual([r.cid.toString()]) // h is an ancestor of r through y and z
    // and a remote head that is already stored, below the current head, changes nothing
    await b.merge(a.heads)
    expect(keys(b.heads)).toEqual([r.cid.toString()])
  })

  it('serialises concurrent advance calls', async () => {
    const clock = new MerkleClock<number>()
    const blocks = await Promise.all([1, 2, 3, 4].map(async (i) => clock.advance(i)))
    expect(blocks.map((b) => b.value.height)).toEqual([1, 2, 3, 4])
    expect(clock.heads).toHaveLength(1)
  })

  it('refuses payloads dag-cbor cannot encode and oversized events', async () => {
    const clock = new MerkleClock<unknown>({ maxBlockBytes: 100 })
    await expect(clock.advance({ x: undefined })).rejects.toThrow(InvalidEventError)
    await expect(clock.advance('x'.repeat(200))).rejects.toThrow(/maxBlockBytes/)
    expect(clock.heads).toEqual([])
    expect(() => new MerkleClock({ maxBlockBytes: 0 })).toThrow(/maxBlockBytes/)
    // more concurrent heads than an event may link
    const wide = new MerkleClock<number>({ maxParents: 2 })
    for (let i = 0; i < 3; i++) {
      const other = new MerkleClock<number>()
      await other.advance(i)
      await wide.merge(other.heads, { fetch: (cid) => other.store.get(cid) })
    }
    expect(wide.heads).toHaveLength(3)
    await expect(wide.advance(9)).rejects.toThrow(/maxParents/)
  })
})

describe('sync efficiency', () => {
  it('replicas that diverged by k events exchange exactly the k missing events', async () => {
    const a = new MerkleClock<number>()
    for (let i = 0; i < 200; i++) await a.advance(i)
    const b = new MerkleClock<number>()
    const full = fetchFrom(a)
    expect((await b.merge(a.heads, { fetch: full })).added).toHaveLength(200)
    expect(full.calls).toBe(200)

    for (const [ka, kb] of [[7, 0], [13, 5], [1, 40]] as const) {
      for (let i = 0; i < ka; i++) await a.advance(1000 + i)
      for (let i = 0; i < kb; i++) await b.advance(2000 + i)
      const toB = fetchFrom(a)
      const toA = fetchFrom(b)
      expect((await b.merge(a.heads, { fetch: toB })).added).toHaveLength(ka)
      expect(toB.calls).toBe(ka)
      expect((await a.merge(b.heads, { fetch: toA })).added).toHaveLength(kb)
      expect(toA.calls).toBe(kb)
      expect(keys(a.heads)).toEqual(keys(b.heads))
    }
  })

  it('merging the same heads again fetches nothing', async () => {
    const a = new MerkleClock<number>()
    for (let i = 0; i < 10; i++) await a.advance(i)
    const b = new MerkleClock<number>()
    await b.merge(a.heads, { fetch: fetchFrom(a) })
    const again = fetchFrom(a)
    expect((await b.merge(a.heads, { fetch: again })).added).toEqual([])
    expect(again.calls).toBe(0)
    expect(await b.missing(a.heads)).toEqual([])
    await a.advance(99)
    expect(keys(await b.missing(a.heads))).toEqual(keys(a.heads))
  })

  it('keeps at most `concurrency` fetches in flight', async () => {
    // A wide DAG: 40 concurrent branches under one root.
    const source = new MerkleClock<number>()
    const root = await source.advance(0)
    const branches: CID[] = []
    for (let i = 1; i <= 40; i++) {
      const e = await encodeEvent(i, [root.cid], 2)
      await source.store.put(e.cid, e.bytes)
      branches.push(e.cid)
    }
    let inFlight = 0
    let peak = 0
    const fetch: FetchBlock = async (cid) => {
      inFlight++
      peak = Math.max(peak, inFlight)
      await new Promise<void>((resolve) => setImmediate(resolve))
      inFlight--
      return source.store.get(cid)
    }
    const sink = new MerkleClock<number>()
    const result = await sink.merge(branches, { fetch, concurrency: 3 })
    expect(result.added).toHaveLength(41)
    expect(result.heads).toHaveLength(40)
    expect(peak).toBe(3)
  })
})

describe('merge and abort', () => {
  it('an abort ends a merge even when fetch ignores its signal', async () => {
    const a = new MerkleClock<string>()
    await a.advance('x')
    const b = new MerkleClock<string>()
    const controller = new AbortController()
    const fetch: FetchBlock = async () => {
      controller.abort(new Error('user gave up'))
      return new Promise<Uint8Array>(() => {}) // never settles
    }
    await expect(b.merge(a.heads, { fetch, signal: controller.signal })).rejects.toThrow('user gave up')
    expect(b.heads).toEqual([])
  })
})

describe('merge refuses bad blocks and applies nothing', () => {
  async function setup (): Promise<{ a: MerkleClock<string>, b: MerkleClock<string>, before: string[] }> {
    const a = new MerkleClock<string>()
    await a.advance('shared')
    const b = new MerkleClock<string>()
    await b.merge(a.heads, { fetch: fetchFrom(a) })
    await a.advance('a1')
    await a.advance('a2')
    return { a, b, before: keys(b.heads) }
  }

  it('a block that does not hash to its CID', async () => {
    const { a, b, before } = await setup()
    const other = await encodeEvent('forged', [], 1)
    await expect(b.merge(a.heads, { fetch: () => other.bytes })).rejects.toThrow(HashMismatchError)
    // the forged block deeper in the DAG: the head is genuine, its parent is not
    const head = a.heads[0]!
    await expect(b.merge(a.heads, { fetch: (cid) => cid.equals(head) ? a.store.get(cid) : other.bytes })).rejects.toThrow(HashMismatchError)
    expect(keys(b.heads)).toEqual(before)
    expect(await b.missing(a.heads)).toHaveLength(1)
  })

  it('an event whose height lies', async () => {
    const { b, before } = await setup()
    const liar = await encodeEvent('liar', b.heads, 7)
    await expect(b.merge([liar.cid], { fetch: () => liar.bytes })).rejects.toThrow(/height 7/)
    expect(keys(b.heads)).toEqual(before)
  })

  it('oversized, malformed, missing, failing, too many, aborted, unsupported CID', async () => {
    const { a, b, before } = await setup()
    const big = await encodeEvent('x'.repeat(2000), [], 1)
    await expect(new MerkleClock({ maxBlockBytes: 1000 }).merge([big.cid], { fetch: () => big.bytes })).rejects.toThrow(BlockTooLargeError)

    const notEvent = dagCbor.encode({ hello: 'world' })
    const notEventCid = CID.createV1(dagCbor.code, sha256.digest(notEvent) as Awaited<ReturnType<typeof sha256.digest>>)
    await expect(b.merge([notEventCid], { fetch: () => notEvent })).rejects.toThrow(InvalidEventError)

    await expect(b.merge(a.heads)).rejects.toThrow(FetchError)
    await expect(b.merge(a.heads, { fetch: () => undefined })).rejects.toThrow(/does not have it/)
    await expect(b.merge(a.heads, { fetch: () => Promise.reject(new Error('stream reset')) })).rejects.toThrow(/stream reset/)
    await expect(b.merge(a.heads, { fetch: fetchFrom(a), maxEvents: 1 })).rejects.toThrow(TooManyEventsError)
    await expect(b.merge(a.heads, { fetch: fetchFrom(a), signal: AbortSignal.abort() })).rejects.toThrow(/abort/i)
    await expect(b.merge([CID.parse('QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n')])).rejects.toThrow(UnsupportedCidError)
    expect(keys(b.heads)).toEqual(before)
    // and the clock still works afterwards
    await b.merge(a.heads, { fetch: fetchFrom(a) })
    expect(keys(b.heads)).toEqual(keys(a.heads))
  })
})

describe('MerkleClock properties', () => {
  // A random history: ops over `n` replicas, each either an advance or a merge from another.
  const historyArb = fc.array(fc.tuple(fc.nat({ max: 2 }), fc.nat({ max: 2 }), fc.boolean()), { minLength: 1, maxLength: 25 })

  async function replay (ops: Array<[number, number, boolean]>): Promise<Array<MerkleClock<string>>> {
    const clocks = [0, 1, 2].map(() => new MerkleClock<string>())
    let n = 0
    for (const [i, j, adv] of ops) {
      if (adv || i === j) await clocks[i]!.advance(`e${n++}`)
      else await clocks[i]!.merge(clocks[j]!.heads, { fetch: fetchFrom(clocks[j]!) })
    }
    return clocks
  }

  /** A fresh clock holding the join of the given clocks, merged in the given order. */
  async function join (...clocks: Array<MerkleClock<string>>): Promise<MerkleClock<string>> {
    const out = new MerkleClock<string>()
    for (const c of clocks) await out.merge(c.heads, { fetch: fetchFrom(c) })
    return out
  }

  it('merge is commutative, associative and idempotent on head sets', async () => {
    await fc.assert(fc.asyncProperty(historyArb, async (ops) => {
      const [a, b, c] = await replay(ops) as [MerkleClock<string>, MerkleClock<string>, MerkleClock<string>]
      expect(keys((await join(a, b)).heads)).toEqual(keys((await join(b, a)).heads))
      const ab = await join(a, b)
      const bc = await join(b, c)
      await expectAntichain(ab)
      await expectAntichain(bc)
      expect(keys((await join(ab, c)).heads)).toEqual(keys((await join(a, bc)).heads))
      const aa = await join(a, a)
      expect(keys(aa.heads)).toEqual(keys(a.heads))
      const again = fetchFrom(a)
      expect((await a.merge(a.heads, { fetch: again })).added).toEqual([])
      expect(again.calls).toBe(0)
    }), { numRuns: NUM_RUNS })
  })

  it('advance strictly advances and happened-before is transitive and antisymmetric', async () => {
    await fc.assert(fc.asyncProperty(historyArb, async (ops) => {
      const clocks = await replay(ops)
      const all = await join(...clocks)
      const events: CID[] = []
      for await (const e of all.events()) events.push(e.cid)
      const head = await all.advance('top')
      for (const e of events) expect(await all.compare(e, head.cid)).toBe('before')
      const order = new Map<string, string>()
      const at = (x: CID, y: CID): string | undefined => order.get(`${x.toString()}|${y.toString()}`)
      for (const x of events) for (const y of events) order.set(`${x.toString()}|${y.toString()}`, await all.compare(x, y))
      for (const x of events) {
        for (const y of events) {
          const xy = at(x, y)
          const mirror = { before: 'after', after: 'before', equal: 'equal', concurrent: 'concurrent' }[xy!]
          expect(at(y, x)).toBe(mirror)
          if (xy !== 'before') continue
          for (const z of events) if (at(y, z) === 'before') expect(at(x, z)).toBe('before')
        }
      }
    }), { numRuns: Math.ceil(NUM_RUNS / 4) })
  })

  it("an event's CID does not depend on the order its parents were given", async () => {
    const parentsArb = fc.uniqueArray(fc.string({ maxLength: 6 }), { minLength: 1, maxLength: 6 })
    await fc.assert(fc.asyncProperty(parentsArb, fc.jsonValue(), fc.nat(), async (names, payload, rot) => {
      const parents = await Promise.all(names.map(async (n) => (await encodeEvent(n, [], 1)).cid))
      const k = rot % parents.length
      const shuffled = [...parents.slice(k), ...parents.slice(0, k)].reverse()
      const x = await encodeEvent(payload, parents, 2)
      const y = await encodeEvent(payload, shuffled, 2)
      expect(x.cid.toString()).toBe(y.cid.toString())
      expect([...x.value.parents]).toEqual([...parents].sort(compareCids))
    }), { numRuns: NUM_RUNS })
  })

  it('N replicas exchanging heads over a lossy, duplicating, reordering channel converge', async () => {
    const stepArb = fc.tuple(fc.nat(), fc.nat(), fc.nat({ max: 9 }))
    await fc.assert(fc.asyncProperty(fc.integer({ min: 2, max: 5 }), fc.array(stepArb, { maxLength: 80 }), async (n, steps) => {
      const clocks = Array.from({ length: n }, () => new MerkleClock<string>())
      const channel: Array<{ from: number, to: number, heads: CID[] }> = []
      let e = 0
      for (const [x, y, r] of steps) {
        const i = x % n
        if (r < 3) await clocks[i]!.advance(`p${i}-${e++}`)
        else if (r < 7) {
          const msg = { from: i, to: y % n, heads: clocks[i]!.heads }
          channel.push(msg)
          if (r === 6) channel.push(msg)
        } else if (channel.length > 0) {
          const [msg] = channel.splice(y % channel.length, 1)
          if (r !== 9) await clocks[msg!.to]!.merge(msg!.heads, { fetch: fetchFrom(clocks[msg!.from]!) })
        }
      }
      // Whatever is still in the channel arrives late, after newer messages.
      for (const msg of channel.reverse()) await clocks[msg.to]!.merge(msg.heads, { fetch: fetchFrom(clocks[msg.from]!) })
      // Eventual delivery: two gossip rounds around a ring reach everyone.
      for (let round = 0; round < 2; round++) {
        for (let i = 0; i < n; i++) await clocks[(i + 1) % n]!.merge(clocks[i]!.heads, { fetch: fetchFrom(clocks[i]!) })
      }
      const expected = keys(clocks[0]!.heads)
      const seq = await payloads(clocks[0]!)
      expect(seq).toHaveLength(e)
      for (const c of clocks) {
        await expectAntichain(c)
        expect(keys(c.heads)).toEqual(expected)
        expect(await payloads(c)).toEqual(seq)
      }
    }), { numRuns: NUM_RUNS })
  })
})
