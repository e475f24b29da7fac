import * as dagCbor from '@ipld/dag-cbor'
import type { Libp2p } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { MerkleClock, encodeEvent } from '../../src/index.js'
import { CLOCK_PROTOCOL, ClockExchange } from '../../src/libp2p.js'
import { startNodes, stopNodes } from './nodes.js'

let nodes: Libp2p[] = []
afterEach(async () => {
  await stopNodes(nodes)
  nodes = []
})

const NUM_RUNS = Number(process.env.FC_NUM_RUNS ?? 25)

const keys = (clock: MerkleClock<unknown>): string[] => clock.heads.map(String)

describe('/p2p-mcp/clock/1.0.0 between libp2p nodes (memory transport)', () => {
  it('syncs two clocks both ways, fetching exactly the missing events', async () => {
    nodes = await startNodes(2)
    const [na, nb] = nodes as [Libp2p, Libp2p]
    const a = new MerkleClock<string>()
    const b = new MerkleClock<string>()
    const xa = new ClockExchange(na, a)
    const xb = new ClockExchange(nb, b)
    await xa.start()
    await xa.start() // idempotent
    await xb.start()

    for (let i = 0; i < 50; i++) await a.advance(`a${i}`)
    const first = await xb.sync(na.getMultiaddrs())
    expect(first.added).toHaveLength(50)
    expect(first.blockRequests).toBe(50)
    expect(keys(b)).toEqual(keys(a))

    for (let i = 0; i < 7; i++) await a.advance(`a-more${i}`)
    for (let i = 0; i < 5; i++) await b.advance(`b${i}`)
    const toB = await xb.sync(na.peerId)
    const toA = await xa.sync(nb.peerId)
    expect(toB.blockRequests).toBe(7)
    expect(toA.blockRequests).toBe(5)
    expect(keys(a)).toEqual(keys(b))
    expect(keys(a)).toHaveLength(2)

    const again = await xb.sync(na.peerId)
    expect(again.added).toEqual([])
    expect(again.blockRequests).toBe(0)

    await xa.stop()
    await xa.stop()
    await expect(xb.sync(na.peerId)).rejects.toThrow(/protocol/i)
  })

  it('with prefetch, the peer pushes ancestors: fewer round trips, and exact when we are behind', async () => {
    nodes = await startNodes(2)
    const [na, nb] = nodes as [Libp2p, Libp2p]
    const a = new MerkleClock<string>()
    const b = new MerkleClock<string>()
    await new ClockExchange(na, a).start()
    const xb = new ClockExchange(nb, b)
    for (let i = 0; i < 100; i++) await a.advance(`a${i}`)
    const first = await xb.sync(na.getMultiaddrs(), { prefetch: 32 })
    expect(first.added).toHaveLength(100)
    expect(first.blocksReceived).toBe(100)
    expect(first.blockRequests).toBe(4) // 1 + 32 ancestors per round trip

    for (let i = 0; i < 40; i++) await a.advance(`more${i}`)
    const behind = await xb.sync(na.peerId, { prefetch: 32 })
    expect(behind.added).toHaveLength(40)
    expect(behind.blocksReceived).toBe(40) // the walk stops at b's head: nothing b has is sent
    expect(behind.blockRequests).toBe(2)

    for (let i = 0; i < 10; i++) await a.advance(`c${i}`)
    await b.advance('b-only') // concurrent now: a cannot know b's head, but knows its parent
    const concurrent = await xb.sync(na.peerId, { prefetch: 32 })
    expect(concurrent.added).toHaveLength(10)
    expect(concurrent.blocksReceived).toBe(10)
    expect(b.heads).toHaveLength(2)

    // b diverges by 5: its samples 1, 2, 4 behind are its own events and 8 behind is shared,
    // 2 or 3 events below the fork (depending on which parent comes first), so a sends at
    // most 3 events b has.
    for (let i = 0; i < 12; i++) await a.advance(`d${i}`)
    await b.advance('x') // b now links its 2 heads
    for (let i = 0; i < 4; i++) await b.advance(`b-more${i}`)
    const diverged = await xb.sync(na.peerId, { prefetch: 32 })
    expect(diverged.added).toHaveLength(12)
    expect(diverged.blocksReceived).toBeGreaterThanOrEqual(12)
    expect(diverged.blocksReceived).toBeLessThanOrEqual(12 + 3)
  })

  it('refuses a forged block from a hostile server and keeps running', async () => {
    nodes = await startNodes(2)
    const [evil, nb] = nodes as [Libp2p, Libp2p]
    const b = new MerkleClock<string>()
    await b.advance('mine')
    const before = keys(b)
    const genuine = await encodeEvent('genuine', [], 1)
    const forged = await encodeEvent('forged', [], 1)
    // A peer that announces one head and serves other bytes for it.
    await evil.handle(CLOCK_PROTOCOL, async (stream) => {
      const lp = lpStream(stream)
      try {
        while (true) {
          const req = dagCbor.decode<{ op: string }>((await lp.read()).subarray())
          await lp.write(dagCbor.encode(req.op === 'heads' ? { v: 1, heads: [genuine.cid] } : { v: 1, block: forged.bytes }))
        }
      } catch {
        stream.abort(new Error('session over'))
      }
    })
    const xb = new ClockExchange(nb, b)
    await expect(xb.sync(evil.getMultiaddrs())).rejects.toMatchObject({ name: 'HashMismatchError' })
    expect(keys(b)).toEqual(before)
    // and b still syncs with an honest peer afterwards
    await evil.unhandle(CLOCK_PROTOCOL)
    const honest = new MerkleClock<string>()
    await honest.advance('honest')
    const xh = new ClockExchange(evil, honest)
    await xh.start()
    const res = await xb.sync(evil.peerId)
    expect(res.added).toHaveLength(1)
  })

  it('a malformed request aborts only that session', async () => {
    nodes = await startNodes(2)
    const [na, nb] = nodes as [Libp2p, Libp2p]
    const a = new MerkleClock<string>()
    await a.advance('x')
    const xa = new ClockExchange(na, a)
    await xa.start()

    const raw = await nb.dialProtocol(na.getMultiaddrs(), CLOCK_PROTOCOL)
    const lp = lpStream(raw)
    await lp.write(new Uint8Array([0xff, 0x00, 0x13]))
    await expect(lp.read({ signal: AbortSignal.timeout(10_000) })).rejects.toThrow()

    const raw2 = await nb.dialProtocol(na.peerId, CLOCK_PROTOCOL)
    const lp2 = lpStream(raw2)
    await lp2.write(new Uint8Array(2000)) // over MAX_REQUEST_BYTES
    await expect(lp2.read({ signal: AbortSignal.timeout(10_000) })).rejects.toThrow()

    const b = new MerkleClock<string>()
    const res = await new ClockExchange(nb, b).sync(na.peerId)
    expect(res.added).toHaveLength(1)
  })

  it('fuzz: random request frames abort only their own session', async () => {
    nodes = await startNodes(2)
    const [na, nb] = nodes as [Libp2p, Libp2p]
    const a = new MerkleClock<string>()
    await a.advance('x')
    const xa = new ClockExchange(na, a)
    await xa.start()
    await nb.dial(na.getMultiaddrs())
    const frameArb = fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      fc.jsonValue().map((v) => dagCbor.encode({ v: 1, op: 'get', cid: v })),
      fc.record({ v: fc.oneof(fc.constant(1), fc.integer()), op: fc.string() }).map((m) => dagCbor.encode(m)),
    )
    await fc.assert(fc.asyncProperty(frameArb, async (frame) => {
      const lp = lpStream(await nb.dialProtocol(na.peerId, CLOCK_PROTOCOL))
      await lp.write(frame)
      try {
        const res = dagCbor.decode<{ v: number }>((await lp.read({ signal: AbortSignal.timeout(10_000) })).subarray())
        expect(res.v).toBe(1) // a valid request got a valid answer
      } catch (err) {
        expect((err as Error).name).not.toBe('TimeoutError')
      }
    }), { numRuns: NUM_RUNS })
    const res = await new ClockExchange(nb, new MerkleClock<string>()).sync(na.peerId)
    expect(res.added).toHaveLength(1)
  })

  it('fuzz: random answers from a hostile server give typed errors and change nothing', async () => {
    nodes = await startNodes(2)
    const [evil, nb] = nodes as [Libp2p, Libp2p]
    const genuine = await encodeEvent('genuine', [], 1)
    let answers: Uint8Array[] = []
    await evil.handle(CLOCK_PROTOCOL, async (stream) => {
      const lp = lpStream(stream)
      try {
        for (const answer of answers) {
          await lp.read()
          await lp.write(answer)
        }
        await stream.close()
      } catch {
        stream.abort(new Error('session over'))
      }
    })
    await nb.dial(evil.getMultiaddrs())
    const answerArb = fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      fc.jsonValue().map((v) => dagCbor.encode({ v: 1, heads: v })),
      fc.jsonValue().map((v) => dagCbor.encode({ v: 1, block: v })),
      fc.uint8Array({ maxLength: 64 }).map((bytes) => dagCbor.encode({ v: 1, block: bytes })),
      fc.tuple(fc.jsonValue(), fc.array(fc.uint8Array({ maxLength: 32 }), { maxLength: 6 })).map(([ancestors, junk]) =>
        dagCbor.encode({ v: 1, block: genuine.bytes, ancestors: junk.length > 0 ? junk : ancestors })),
    )
    const typed = ['ClockExchangeError', 'InvalidHeadsError', 'InvalidEventError', 'HashMismatchError', 'FetchError']
    // Either random heads, or a genuine head followed by a random block answer.
    await fc.assert(fc.asyncProperty(fc.boolean(), answerArb, answerArb, async (genuineHeads, headsAnswer, blockAnswer) => {
      answers = [genuineHeads ? dagCbor.encode({ v: 1, heads: [genuine.cid] }) : headsAnswer, blockAnswer]
      const b = new MerkleClock<string>()
      await b.advance('mine')
      const before = keys(b)
      try {
        const res = await new ClockExchange(nb, b, { requestTimeoutMs: 5_000 }).sync(evil.peerId, { prefetch: 4 })
        // Only the genuine event can get in (served with its true bytes), or nothing at all.
        expect(res.added.map(String)).toEqual(res.added.length === 0 ? [] : [genuine.cid.toString()])
      } catch (err) {
        expect(typed, `${(err as Error).name}: ${(err as Error).message}`).toContain((err as Error).name)
        expect(keys(b)).toEqual(before)
      }
    }), { numRuns: NUM_RUNS })
  })

  it('the server drops a session that stays idle past sessionIdleTimeoutMs', async () => {
    nodes = await startNodes(2)
    const [na, nb] = nodes as [Libp2p, Libp2p]
    const xa = new ClockExchange(na, new MerkleClock<string>(), { sessionIdleTimeoutMs: 200 })
    await xa.start()
    const stream = await nb.dialProtocol(na.getMultiaddrs(), CLOCK_PROTOCOL)
    const closed = new Promise<void>((resolve) => {
      stream.addEventListener('close', () => resolve(), { once: true })
    })
    // Nothing is sent: the server must end the session by itself (checked with a generous bound).
    await Promise.race([closed, new Promise((_, reject) => setTimeout(() => reject(new Error('still open after 10 s')), 10_000).unref())])
    expect(stream.status).not.toBe('open')
  })
})
