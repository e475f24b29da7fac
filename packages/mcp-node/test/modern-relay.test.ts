// The 2026 relay's decoders against hostile input: the SSE splitter (any chunking of a valid
// stream gives the same messages; junk throws or yields, never hangs or grows without bound) and
// the relay protocol (random frames from a peer get an error frame or a reset; the node keeps
// answering). FC_SEED and FC_NUM_RUNS replay or lengthen a run.
import fc from 'fast-check'
import { lpStream } from '@libp2p/utils'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestNet, type TestNode } from '@p2p-mcp/testkit'
import {
  createModernRelay, decodeRelayFrame, decodeRelayRequest, MAX_RELAY_BODY_DEPTH, MAX_RELAY_FRAME_BYTES, MODERN_RELAY_PROTOCOL, RelayProtocolError, sseMessages,
} from '../src/modern-relay.js'
import { outcomeTally, typedOutcome, typedOutcomeAsync } from '@p2p-mcp/testkit/fuzz'
import { noopLogger } from '../src/logger.js'

const numRuns = Number(process.env.FC_NUM_RUNS ?? 100)
const seed = process.env.FC_SEED === undefined ? Date.now() % 2 ** 31 : Number(process.env.FC_SEED)

function body (chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({ start (c) { for (const x of chunks) c.enqueue(x); c.close() } })
}

function cut (bytes: Uint8Array, points: number[]): Uint8Array[] {
  const at = [...new Set(points.map((p) => p % (bytes.length + 1)))].sort((x, y) => x - y)
  const out: Uint8Array[] = []
  let last = 0
  for (const p of [...at, bytes.length]) { out.push(bytes.subarray(last, p)); last = p }
  return out
}

async function collect (stream: ReadableStream<Uint8Array>): Promise<unknown[]> {
  const out: unknown[] = []
  for await (const m of sseMessages(stream)) out.push(m)
  return out
}

describe('2026 relay decoders', () => {
  it(`splits SSE into the same messages however it is chunked (FC_SEED=${seed})`, async () => {
    await fc.assert(fc.asyncProperty(
      fc.array(fc.record({ id: fc.nat(), method: fc.string({ maxLength: 20 }) }), { maxLength: 8 }),
      fc.array(fc.nat(), { maxLength: 10 }),
      fc.boolean(),
      async (messages, points, crlf) => {
        const nl = crlf ? '\r\n' : '\n'
        const text = messages.map((m, i) => `event: message${nl}id: ${i}${nl}data: ${JSON.stringify({ jsonrpc: '2.0', ...m })}${nl}${nl}`).join(': keepalive' + nl + nl)
        const got = await collect(body(cut(new TextEncoder().encode(text), points)))
        expect(got).toEqual(messages.map((m) => ({ jsonrpc: '2.0', ...m })))
      },
    ), { numRuns, seed })
  })

  it('decoder fuzz: 2026 relay SSE splitter — junk gives messages or RelayProtocolError without hanging, and an event is bounded', async () => {
    const tally = outcomeTally('2026 relay SSE splitter')
    const sse = fc.array(fc.oneof(fc.constantFrom('data: ', 'data:', 'event: x', 'id: 1', ': c', '\n', '\r\n', '\n\n', '{"a":', '}', '[1,2]', '"\\q"'), fc.string({ maxLength: 8 })), { maxLength: 40 })
      .map((parts) => new TextEncoder().encode(parts.join('')))
    await fc.assert(fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 400 }), sse), fc.array(fc.nat(), { maxLength: 6 }), async (junk, points) => {
      tally.add(await typedOutcomeAsync('sseMessages', ['RelayProtocolError'], async () => collect(body([...cut(junk, points), new TextEncoder().encode('\n\n')]))))
    }), { numRuns, seed })
    tally.print()
    const huge = new TextEncoder().encode('data: ' + 'x'.repeat(MAX_RELAY_FRAME_BYTES + 10))
    await expect(collect(body([huge]))).rejects.toThrow(/larger than/)
  })

  it('decoder fuzz: 2026 relay request and frame — any bytes decode or throw RelayProtocolError', () => {
    const tally = outcomeTally('2026 relay request and frame')
    const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v) ?? 'null')
    const deep = fc.integer({ min: 1, max: 3000 }).map((n) => new TextEncoder().encode(`{"server":"s","headers":{},"body":${'['.repeat(n)}${']'.repeat(n)}}`))
    const shaped = fc.record({
      server: fc.oneof(fc.string(), fc.jsonValue()), headers: fc.oneof(fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.jsonValue())), fc.jsonValue()), body: fc.jsonValue(),
      head: fc.oneof(fc.record({ status: fc.oneof(fc.integer(), fc.jsonValue()), contentType: fc.oneof(fc.string(), fc.jsonValue()) }, { requiredKeys: [] }), fc.jsonValue()),
      message: fc.jsonValue(), legacy: fc.oneof(fc.constant(true), fc.jsonValue()), error: fc.oneof(fc.string(), fc.jsonValue()),
    }, { requiredKeys: [] }).map(enc)
    fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), shaped, fc.jsonValue().map(enc), deep), (bytes) => {
      tally.add(`request: ${typedOutcome('decodeRelayRequest', ['RelayProtocolError'], () => decodeRelayRequest(bytes))}`)
      tally.add(`frame: ${typedOutcome('decodeRelayFrame', ['RelayProtocolError'], () => decodeRelayFrame(bytes))}`)
    }), { numRuns, seed })
    tally.print()
  })

  it('a relay frame that is not an object, or a request body nested past the limit, is a RelayProtocolError (found by the decoder fuzz: `\'legacy\' in 5` threw TypeError)', () => {
    for (const text of ['5', 'null', '"x"', '{"head":null}', '{"head":{"status":1e9,"contentType":"x"}}']) {
      expect(() => decodeRelayFrame(new TextEncoder().encode(text))).toThrow(RelayProtocolError)
    }
    const deep = `{"server":"s","headers":{},"body":${'['.repeat(MAX_RELAY_BODY_DEPTH + 1)}${']'.repeat(MAX_RELAY_BODY_DEPTH + 1)}}`
    expect(() => decodeRelayRequest(new TextEncoder().encode(deep))).toThrow(/nests deeper/)
    expect(decodeRelayRequest(new TextEncoder().encode('{"server":"s","headers":{"accept":"x","n":1},"body":{}}'))).toEqual({ server: 's', headers: { accept: 'x' }, body: {} })
  })

  describe('relay protocol', () => {
    const net = createTestNet()
    let a: TestNode
    let b: TestNode
    beforeAll(async () => {
      const [first, second] = await net.nodes(2)
      a = first!
      b = second!
      const relay = createModernRelay({ target: () => undefined, admit: () => ({ ok: true, finish: () => {} }), log: noopLogger })
      await relay.serve(b)
      await net.connect(a, b)
    })
    afterAll(async () => { await net.stop() })

    const exchange = async (frame: Uint8Array): Promise<unknown> => {
      const stream = await a.dialProtocol(b.peerId, MODERN_RELAY_PROTOCOL)
      const lp = lpStream(stream, { maxDataLength: MAX_RELAY_FRAME_BYTES })
      try {
        await lp.write(frame)
        return JSON.parse(new TextDecoder().decode((await lp.read({ signal: AbortSignal.timeout(10_000) })).subarray())) as unknown
      } catch (err) {
        return { reset: (err as Error).name }
      } finally {
        await stream.close().catch(() => {})
      }
    }

    it(`answers random frames with an error and keeps serving (FC_SEED=${seed})`, async () => {
      await fc.assert(fc.asyncProperty(
        fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.json().map((j) => new TextEncoder().encode(j))),
        async (frame) => {
          const reply = await exchange(frame) as { error?: string, legacy?: boolean, reset?: string }
          expect(reply.error !== undefined || reply.legacy === true || reply.reset !== undefined).toBe(true)
        },
      ), { numRuns: Math.min(numRuns, 40), seed })
      // still serving: a well-formed request for a server not hosted here is answered `legacy`
      expect(await exchange(new TextEncoder().encode(JSON.stringify({ server: 'x', headers: {}, body: { jsonrpc: '2.0', id: 1, method: 'tools/list' } })))).toEqual({ legacy: true })
    })
  })
})
