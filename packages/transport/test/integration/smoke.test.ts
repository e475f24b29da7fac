import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestNet, type TestNode } from '@p2p-mcp/testkit'
import { dialMcp, MCP_PROTOCOL, serveMcp, type Unserve } from '../../src/index.js'
import { makeServer } from '../helpers.js'

describe.each(['memory', 'tcp'] as const)('smoke over %s', (transport) => {
  const net = createTestNet()
  let a: TestNode, b: TestNode, unserve: Unserve
  beforeAll(async () => {
    [a, b] = await net.nodes(2, { transport }) as [TestNode, TestNode]
    unserve = await serveMcp(b, (session) => makeServer(session))
  })
  afterAll(async () => { await unserve(); await net.stop() })

  it('initializes, lists and calls tools', async () => {
    expect(MCP_PROTOCOL).toBe('/p2p-mcp/mcp/1.0.0')
    const client = new Client({ name: 'a', version: '1.0.0' })
    await client.connect(await dialMcp(a, b.getMultiaddrs()))
    expect(client.getServerVersion()).toEqual({ name: 'test-server', version: '1.2.3' })
    const tools = await client.listTools()
    expect(tools.tools.map((t) => t.name)).toContain('echo')
    const res = await client.callTool({ name: 'echo', arguments: { text: 'hi' } })
    expect(res.content).toEqual([{ type: 'text', text: 'hi' }])
    await client.close()
  })
})
