import fc from 'fast-check'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import type { Stream } from '@libp2p/interface'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestNet, within, type TestNode } from '@p2p-mcp/testkit'
import { dialMcp, MCP_PROTOCOL, serveMcp, type Unserve } from '../../src/index.js'
import { writeVarint } from '../../src/frame.js'
import { makeServer } from '../helpers.js'

// Raise with FUZZ_RUNS=2000 for a long run (about 40 runs/s).
const numRuns = Number(process.env.FUZZ_RUNS ?? 40)
const T = 10_000
const MAX = 16 * 1024

function frame (body: Uint8Array): Uint8Array {
  const out = new Uint8Array(body.length + 5)
  const at = writeVarint(out, 0, body.length)
  out.set(body, at)
  return out.subarray(0, at + body.length)
}
const text = (s: string): Uint8Array => new TextEncoder().encode(s)

/** An attack, and the error name the server must report for it (undefined: anything or nothing). */
type Attack = { bytes: Uint8Array, expect: string | undefined, label: string }

const validRequest = fc.record({ id: fc.nat(), text: fc.string() }).map(({ id, text: t }) =>
  JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { text: t } } }))

const attacks: fc.Arbitrary<Attack> = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 4096 }).map((bytes) => ({ bytes, expect: undefined, label: 'random bytes' })),
  fc.tuple(validRequest, fc.nat()).map(([json, cut]) => {
    const whole = frame(text(json))
    return { bytes: whole.subarray(0, 1 + (cut % (whole.length - 1))), expect: 'InvalidFrameError', label: 'truncated frame' }
  }),
  fc.integer({ min: MAX + 1, max: 2 ** 34 }).map((n) => {
    const prefix = new Uint8Array(5)
    return { bytes: prefix.subarray(0, writeVarint(prefix, 0, n)), expect: 'FrameTooLargeError', label: 'huge length prefix' }
  }),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 200 }).filter((s) => { try { JSON.parse(s); return false } catch { return true } })
    .map((s) => ({ bytes: frame(text(s)), expect: 'InvalidMessageError', label: 'invalid JSON' })),
  fc.uint8Array({ minLength: 1, maxLength: 64 }).map((b) => ({ bytes: frame(Uint8Array.of(0xff, ...b)), expect: 'InvalidMessageError', label: 'invalid UTF-8' })),
  fc.oneof(fc.jsonValue(), fc.record({ jsonrpc: fc.constant('2.0'), id: fc.oneof(fc.double(), fc.boolean(), fc.constant(null)), method: fc.string() }))
    .filter((v) => !(typeof v === 'object' && v !== null && !Array.isArray(v) && (v as Record<string, unknown>).jsonrpc === '2.0' && typeof (v as Record<string, unknown>).method === 'string' && Number.isInteger((v as Record<string, unknown>).id)))
    .map((v) => ({ bytes: frame(text(JSON.stringify(v) ?? 'null')), expect: 'InvalidMessageError', label: 'invalid JSON-RPC' })),
)

async function settled (stream: Stream): Promise<void> {
  if (stream.status !== 'open') return
  await new Promise<void>((resolve) => { stream.addEventListener('close', () => { resolve() }, { once: true }) })
}

describe('fuzzing serveMcp with hostile streams', () => {
  const net = createTestNet()
  let a: TestNode, b: TestNode, unserve: Unserve, bystander: Client
  const errors: Error[] = []

  beforeAll(async () => {
    [a, b] = await net.nodes(2) as [TestNode, TestNode]
    unserve = await serveMcp(b, () => makeServer(undefined), { maxFrameBytes: MAX, onerror: (err) => { errors.push(err) } })
    bystander = new Client({ name: 'bystander', version: '1.0.0' })
    await bystander.connect(await dialMcp(a, b.getMultiaddrs()))
  })
  afterAll(async () => { await bystander.close(); await unserve(); await net.stop() })

  it('reports every attack through onerror, never crashes, never stalls another session', async () => {
    await fc.assert(fc.asyncProperty(fc.array(attacks, { minLength: 1, maxLength: 3 }), async (batch) => {
      errors.length = 0
      // Several hostile streams at once, each with valid frames around the attack where it is recoverable.
      const streams = await Promise.all(batch.map(async () => a.dialProtocol(b.peerId, MCP_PROTOCOL)))
      batch.forEach((attack, i) => {
        const stream = streams[i]!
        stream.send(attack.bytes)
        void stream.close().catch(() => {})
      })
      const echoed = await within(T, 'the bystander call', bystander.callTool({ name: 'echo', arguments: { text: 'ok' } }))
      expect(echoed.content).toEqual([{ type: 'text', text: 'ok' }])
      await within(T, 'the hostile streams to close', Promise.all(streams.map(settled)))
      const names = errors.map((e) => e.name)
      for (const attack of batch) {
        if (attack.expect !== undefined) expect(names, attack.label).toContain(attack.expect)
      }
      for (const e of errors) expect(['FrameTooLargeError', 'InvalidFrameError', 'InvalidMessageError', 'StreamResetError', 'TransportClosedError']).toContain(e.name)
    }), { numRuns })
    expect(unserve.sessionCount).toBe(1)
  })
})
