// createMcpNode's registerTool / registerPrompt are typed like the SDK's McpServer methods: the
// handler's arguments come from the schema (under strict they were `never` before). This file is
// checked by `tsc -b` (npm run lint); the test also runs the typed handler through a node.
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createMcpNode } from '../src/index.js'

describe('registerTool typing', () => {
  it('gives the handler the arguments its inputSchema declares', async () => {
    const node = createMcpNode({ http: { enabled: false } })
    node.registerTool('add', { description: 'a + b', inputSchema: { a: z.number(), b: z.number() } }, ({ a, b }) => ({ content: [{ type: 'text', text: String(a + b) }] }))
    // @ts-expect-error a is a number: calling a string method on it does not compile
    // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call -- the line must not compile
    node.registerTool('bad', { inputSchema: { a: z.number() } }, ({ a }) => ({ content: [{ type: 'text', text: a.toUpperCase() }] }))
    node.registerPrompt('greet', { argsSchema: { who: z.string() } }, ({ who }) => ({ messages: [{ role: 'user', content: { type: 'text', text: `hello ${who.toUpperCase()}` } }] }))
    await node.start()
    try {
      await node.waitForTool('local__add', { timeoutMs: 20_000 })
      const client = await node.connectClient()
      const r = await client.callTool({ name: 'local__add', arguments: { a: 2, b: 3 } })
      expect(r.content).toEqual([{ type: 'text', text: '5' }])
      await client.close()
    } finally {
      await node.stop()
    }
  })
})
