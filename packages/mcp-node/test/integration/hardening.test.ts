// Issue 17 regressions, nodes in this process over TCP on 127.0.0.1: errors raised on the
// entry peer (arguments nested too deep, arguments too large, arguments that are not an
// object) fail that one call with -32602 naming the limit and never count against the
// replicas; error messages carry their code once.
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import { McpError } from '@modelcontextprotocol/sdk/types.js'
import { afterAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createMcpNode, MAX_ARGUMENT_BYTES, MAX_ARGUMENT_DEPTH, type McpNode } from '../../src/index.js'

const nodes: McpNode[] = []
afterAll(async () => { await Promise.allSettled(nodes.map(async (n) => { await n.stop({ graceMs: 500 }) })) })

async function started (config: Parameters<typeof createMcpNode>[0], setup?: (n: McpNode) => void): Promise<McpNode> {
  const node = createMcpNode({ http: { enabled: false }, heartbeatIntervalMs: 300, ...config })
  nodes.push(node)
  setup?.(node)
  await node.start()
  return node
}

function nested (depth: number): Record<string, unknown> {
  let v: Record<string, unknown> = {}
  for (let i = 0; i < depth; i++) v = { a: v }
  return v
}

const errorOf = async (p: Promise<unknown>): Promise<McpError> => {
  const e = await p.then(() => undefined, (err: unknown) => err)
  expect(e).toBeInstanceOf(McpError)
  return e as McpError
}

describe('errors raised on the entry peer', () => {
  let entry: McpNode
  async function mesh (): Promise<void> {
    if (entry !== undefined) return
    const echo = (n: McpNode): void => {
      n.registerTool('echo', { inputSchema: z.looseObject({}) }, (args: Record<string, unknown>): Promise<CallToolResult> =>
        Promise.resolve({ content: [{ type: 'text', text: String(Object.keys(args).length) }] }))
    }
    const r1 = await started({ name: 'r1' }, echo)
    await started({ name: 'r2', bootstrap: [r1.multiaddrs[0]!] }, echo)
    entry = await started({ name: 'entry', bootstrap: [r1.multiaddrs[0]!] })
    await entry.waitForTool('local__echo', { timeoutMs: 20_000 })
  }

  it('arguments nested 6,000 levels deep or larger than the limit fail that call with -32602 naming the limit; both replicas keep serving', async () => {
    await mesh()
    const client = await entry.connectClient()
    for (let i = 0; i < 6; i++) {
      const deep = await errorOf(client.callTool({ name: 'local__echo', arguments: nested(6_000) }))
      expect(deep.code).toBe(-32602)
      expect(deep.message).toContain(`${MAX_ARGUMENT_DEPTH}`)
      const big = await errorOf(client.callTool({ name: 'local__echo', arguments: { blob: 'x'.repeat(MAX_ARGUMENT_BYTES + 1) } }))
      expect(big.code).toBe(-32602)
      expect(big.message).toContain(`${MAX_ARGUMENT_BYTES}`)
    }
    // No breaker opened: legitimate calls succeed at once, and on both replicas.
    for (let i = 0; i < 10; i++) {
      const r = await client.callTool({ name: 'local__echo', arguments: { a: nested(MAX_ARGUMENT_DEPTH - 2) } })
      expect(r.isError).not.toBe(true)
    }
    await client.close()
  })

  it('a non-object `arguments` is -32602 with a short message, not -32603 and a zod dump', async () => {
    await mesh()
    const client = await entry.connectClient()
    const e = await errorOf(client.callTool({ name: 'local__echo', arguments: [1, 2] as unknown as Record<string, unknown> }))
    expect({ code: e.code, message: e.message }).toMatchObject({ code: -32602 })
    expect(e.message).toMatch(/arguments/)
    expect(e.message).not.toMatch(/"code":|\[\s*\{/)
    await client.close()
  })

  it('an error crossing a hop names its code once', async () => {
    await mesh()
    const client = await entry.connectClient()
    const e = await errorOf(client.callTool({ name: 'local__nope', arguments: {} }))
    expect(e.message.match(/MCP error/g)).toHaveLength(1)
    await client.close()
  })
})
