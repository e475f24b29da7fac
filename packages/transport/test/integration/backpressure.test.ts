import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js'
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js'
import { afterAll, describe, expect, it } from 'vitest'
import { createTestNet, deferred, within, type TestNode } from '@p2p-mcp/testkit'
import { dialMcp, serveMcp } from '../../src/index.js'

describe('backpressure', () => {
  const net = createTestNet()
  afterAll(async () => { await net.stop() })

  it.each(['memory', 'tcp'] as const)('send() waits for the stream to drain, and every frame arrives in order (%s)', async (kind) => {
    const [a, b] = await net.nodes(2, { transport: kind }) as [TestNode, TestNode]
    const got: number[] = []
    const all = deferred<void>()
    const COUNT = 40
    // A bare McpServerLike: records what arrives, no SDK in the way.
    const unserve = await serveMcp(b, () => ({
      async connect (t: Transport) {
        t.onmessage = (m: JSONRPCMessage) => {
          got.push((m as unknown as { params: { i: number } }).params.i)
          if (got.length === COUNT) all.resolve()
        }
        await t.start()
      },
      async close () {},
    }), { maxFrameBytes: 1 << 20 })
    const transport = await dialMcp(a, b.getMultiaddrs(), { maxFrameBytes: 1 << 20 })
    await transport.start()
    const data = 'x'.repeat(512 * 1024)
    // 20 MiB pushed without waiting: how many frames had arrived when each send() resolved?
    const arrivedWhenResolved = await Promise.all(Array.from({ length: COUNT }, async (_, i) => {
      await transport.send({ jsonrpc: '2.0', method: 'test/big', params: { i, data } })
      return got.length
    }))
    await within(20_000, 'every frame to arrive', all.promise)
    expect(got).toEqual(Array.from({ length: COUNT }, (_, i) => i))
    // Without backpressure every send() would resolve before anything crossed the wire.
    expect(Math.max(...arrivedWhenResolved)).toBeGreaterThan(0)
    await transport.close()
    await unserve()
  })
})
