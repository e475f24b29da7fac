import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import {
  CreateMessageRequestSchema, ElicitRequestSchema, LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema, ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestNet, deferred, within, type TestNode } from '@p2p-mcp/testkit'
import { dialMcp, MCP_PROTOCOL, serveMcp, type McpSessionInfo, type Unserve } from '../../src/index.js'
import { makeServer } from '../helpers.js'

const T = 10_000

describe.each(['memory', 'tcp'] as const)('MCP over libp2p (%s)', (transport) => {
  const net = createTestNet()
  let a: TestNode, b: TestNode, unserve: Unserve
  const sessions: McpSessionInfo[] = []
  const serveErrors: Error[] = []
  let cancelled = deferred<void>()
  let started = deferred<void>()

  beforeAll(async () => {
    [a, b] = await net.nodes(2, { transport }) as [TestNode, TestNode]
    unserve = await serveMcp(b, (session) => {
      sessions.push(session)
      return makeServer(session, { onStarted: () => { started.resolve() }, onCancelled: () => { cancelled.resolve() } })
    }, { onerror: (err) => { serveErrors.push(err) } })
  })
  afterAll(async () => { await unserve(); await net.stop() })

  async function connectClient (capabilities = {}): Promise<Client> {
    const client = new Client({ name: 'a', version: '1.0.0' }, { capabilities })
    await client.connect(await dialMcp(a, b.getMultiaddrs()))
    return client
  }

  it('initializes and calls tools returning text, structured and image content', async () => {
    expect(MCP_PROTOCOL).toBe('/p2p-mcp/mcp/1.0.0')
    const client = await connectClient()
    expect(client.getServerVersion()).toEqual({ name: 'test-server', version: '1.2.3' })
    const { tools } = await client.listTools()
    expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(['echo', 'add', 'image', 'progress', 'hang']))
    expect(await client.callTool({ name: 'echo', arguments: { text: 'héllo ✓' } })).toMatchObject({ content: [{ type: 'text', text: 'héllo ✓' }] })
    expect(await client.callTool({ name: 'add', arguments: { a: 2, b: 40 } })).toMatchObject({ structuredContent: { sum: 42 } })
    expect(await client.callTool({ name: 'image', arguments: {} })).toMatchObject({
      content: [{ type: 'image', data: Buffer.from([1, 2, 3, 255]).toString('base64'), mimeType: 'image/png' }],
    })
    await client.close()
  })

  it('gives tool handlers the remote peer id in extra.authInfo', async () => {
    const client = await connectClient()
    const res = await client.callTool({ name: 'whoami', arguments: {} })
    const who = JSON.parse((res.content as Array<{ text: string }>)[0]!.text) as Record<string, string>
    expect(who.clientId).toBe(a.peerId.toString())
    expect(who.factoryPeer).toBe(a.peerId.toString())
    expect(who.sessionId).toMatch(new RegExp(`^${a.peerId.toString()}/`))
    await client.close()
  })

  it('delivers progress notifications', async () => {
    const client = await connectClient()
    const seen: number[] = []
    const res = await client.callTool({ name: 'progress', arguments: { steps: 5 } }, undefined, { onprogress: (p) => { seen.push(p.progress) } })
    expect(res.content).toEqual([{ type: 'text', text: 'done' }])
    expect(seen).toEqual([1, 2, 3, 4, 5])
    await client.close()
  })

  it('cancels a call: the server handler sees extra.signal fire', async () => {
    cancelled = deferred<void>()
    started = deferred<void>()
    const client = await connectClient()
    const abort = new AbortController()
    const call = client.callTool({ name: 'hang', arguments: {} }, undefined, { signal: abort.signal })
    await within(T, 'the hang tool to start', started.promise)
    abort.abort(new Error('user cancelled'))
    await expect(call).rejects.toThrow(/cancelled/)
    await within(T, 'the server to see the cancellation', cancelled.promise)
    await client.close()
  })

  it('delivers logging notifications', async () => {
    const client = await connectClient()
    const logged = deferred<unknown>()
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => { logged.resolve(n.params.data) })
    await client.callTool({ name: 'log', arguments: { text: 'a log line' } })
    expect(await within(T, 'the log notification', logged.promise)).toBe('a log line')
    await client.close()
  })

  it('subscribes to a resource and receives its update notification', async () => {
    const client = await connectClient()
    const updated = deferred<string>()
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => { updated.resolve(n.params.uri) })
    expect((await client.readResource({ uri: 'test://counter' })).contents).toEqual([{ uri: 'test://counter', text: 'n' }])
    await client.subscribeResource({ uri: 'test://counter' })
    expect(await within(T, 'resources/updated', updated.promise)).toBe('test://counter')
    await client.close()
  })

  it('sends tools/list_changed when a tool is added', async () => {
    const client = await connectClient()
    const changed = deferred<void>()
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => { changed.resolve() })
    await client.callTool({ name: 'add-tool', arguments: { name: 'fresh' } })
    await within(T, 'tools/list_changed', changed.promise)
    expect((await client.listTools()).tools.map((t) => t.name)).toContain('fresh')
    await client.close()
  })

  it('carries server-to-client requests: sampling and elicitation answered by the client', async () => {
    const client = await connectClient({ sampling: {}, elicitation: { form: {} } })
    client.setRequestHandler(CreateMessageRequestSchema, (req) => {
      const first = req.params.messages[0]!.content
      const text = !Array.isArray(first) && first.type === 'text' ? first.text : ''
      return { model: 'test', role: 'assistant', content: { type: 'text', text: `sampled:${text}` } }
    })
    client.setRequestHandler(ElicitRequestSchema, () => ({ action: 'accept', content: { name: 'bob' } }))
    expect(await client.callTool({ name: 'sample', arguments: { prompt: 'p' } })).toMatchObject({ content: [{ text: 'sampled:p' }] })
    expect(await client.callTool({ name: 'elicit', arguments: {} })).toMatchObject({ content: [{ text: 'accept:bob' }] })
    await client.close()
  })

  it('moves a 1 MiB payload each way', async () => {
    const client = await connectClient()
    const big = 'y'.repeat(1 << 20)
    const echoed = await client.callTool({ name: 'echo', arguments: { text: big } })
    expect((echoed.content as Array<{ text: string }>)[0]!.text).toBe(big)
    const blob = await client.callTool({ name: 'blob', arguments: { bytes: 1 << 20 } })
    expect((blob.content as Array<{ text: string }>)[0]!.text.length).toBe(1 << 20)
    await client.close()
  })

  it('runs 1,000 concurrent calls on one session', async () => {
    const client = await connectClient()
    const results = await Promise.all(Array.from({ length: 1000 }, async (_, i) =>
      client.callTool({ name: 'add', arguments: { a: i, b: 1 } })))
    expect(results.map((r) => (r.structuredContent as { sum: number }).sum)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1))
    await client.close()
  })

  it('runs 100 concurrent sessions over one libp2p connection', async () => {
    const before = sessions.length
    const clients = await Promise.all(Array.from({ length: 100 }, async () => connectClient()))
    expect(a.getConnections(b.peerId)).toHaveLength(1)
    expect(sessions.length).toBe(before + 100)
    expect(unserve.sessionCount).toBeGreaterThanOrEqual(100)
    const ids = await Promise.all(clients.map(async (c) => {
      const res = await c.callTool({ name: 'whoami', arguments: {} })
      return (JSON.parse((res.content as Array<{ text: string }>)[0]!.text) as { sessionId: string }).sessionId
    }))
    expect(new Set(ids).size).toBe(100)
    await Promise.all(clients.map(async (c) => { await c.close() }))
    expect(a.getConnections(b.peerId)).toHaveLength(1)
  })

  it('closes the server session when the client closes (both halves)', async () => {
    const client = await connectClient()
    const before = unserve.sessionCount
    await client.close()
    await within(T, 'the session count to drop', (async () => {
      while (unserve.sessionCount !== before - 1) await new Promise((resolve) => setImmediate(resolve))
    })())
    expect(serveErrors.filter((e) => e.name !== 'IdleTimeoutError')).toEqual([])
  })
})
