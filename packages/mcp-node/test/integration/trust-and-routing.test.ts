// Nodes in this process, over TCP on 127.0.0.1: who may join (a pre-shared key, an allow-list),
// and what crosses a hop besides tools/call: roots, prompts/get and resources/read under the
// documented name and URI rule, mesh://tools, the request id, and an MCP client that is not a
// peer, reaching the mesh through the libp2p front door with @p2p-mcp/transport's dialMcp.
import { randomBytes } from 'node:crypto'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js'
import { ListRootsRequestSchema, McpError, ResourceUpdatedNotificationSchema, SubscribeRequestSchema, UnsubscribeRequestSchema } from '@modelcontextprotocol/sdk/types.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import { multiaddr } from '@multiformats/multiaddr'
import { dialMcp } from '@p2p-mcp/transport'
import { createLibp2p, type Libp2p } from 'libp2p'
import { afterAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createMcpNode, REQUEST_ID_META, type Logger, type McpNode } from '../../src/index.js'
import { until } from './peers.js'

const nodes: McpNode[] = []
const closers: Array<() => Promise<void>> = []

afterAll(async () => {
  await Promise.allSettled(closers.map(async (c) => { await c() }))
  await Promise.allSettled(nodes.map(async (n) => { await n.stop({ graceMs: 500 }) }))
})

const swarmKey = (): string => `/key/swarm/psk/1.0.0/\n/base16/\n${randomBytes(32).toString('hex')}\n`

async function started (config: Parameters<typeof createMcpNode>[0], options: Parameters<typeof createMcpNode>[1] = {}, setup?: (n: McpNode) => void): Promise<McpNode> {
  const node = createMcpNode({ http: { enabled: false }, heartbeatIntervalMs: 300, ...config }, options)
  nodes.push(node)
  setup?.(node)
  await node.start()
  return node
}

const echo = (n: McpNode): void => {
  n.registerTool('echo', { inputSchema: { text: z.string() } }, ({ text }: { text: string }): Promise<CallToolResult> => Promise.resolve({ content: [{ type: 'text', text }] }))
}

/** Log lines with their bindings, as a pino child would hold them. */
function capturingLogger (lines: Array<Record<string, unknown>>, bindings: Record<string, unknown> = {}): Logger {
  const at = (level: string) => (first: unknown, ...rest: unknown[]): void => {
    const fields = typeof first === 'object' && first !== null ? first as Record<string, unknown> : {}
    const msg = typeof first === 'string' ? first : rest[0]
    lines.push({ ...bindings, ...fields, level, msg })
  }
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: (b) => capturingLogger(lines, { ...bindings, ...b }) }
}

describe('who may join', () => {
  it('a PSK mesh: a peer with the same key joins; a peer with another key cannot connect', async () => {
    const key = swarmKey()
    const x = await started({ psk: key }, {}, echo)
    const same = await started({ psk: key, bootstrap: [x.multiaddrs[0]!] })
    const other = await started({ psk: swarmKey(), bootstrap: [x.multiaddrs[0]!] })
    await same.waitForTool('local__echo', { timeoutMs: 20_000 })
    const client = await same.connectClient()
    expect(await client.callTool({ name: 'local__echo', arguments: { text: 'same key' } })).toMatchObject({ content: [{ type: 'text', text: 'same key' }] })
    await client.close()
    // The other key: the handshake fails, the bootstrap peer is reported unreachable and retried.
    const h = await until('a failed bootstrap attempt with the wrong key', () => {
      const health = other.health()
      return (health.bootstrap[0]?.attempts ?? 0) >= 1 ? health : undefined
    }, 20_000)
    expect(h.status).toBe('degraded')
    expect(h.bootstrap[0]?.connected).toBe(false)
    expect(h.bootstrap[0]?.error).toMatch(/same swarm key \(psk\)/)
    expect(other.libp2p.getConnections(x.libp2p.peerId)).toHaveLength(0)
    expect(x.libp2p.getPeers().map(String)).not.toContain(other.peerId)
    expect(other.tools().map((t) => t.name)).not.toContain('local__echo')
  })

  it('an allow-list: a listed peer joins; a peer not on it is refused', async () => {
    const listed = await started({})
    const outsider = await started({})
    const x = await started({ allowPeers: [listed.peerId], bootstrap: [listed.multiaddrs[0]!] }, {}, echo)
    await listed.waitForTool('local__echo', { timeoutMs: 20_000 })
    // The outsider dials x: refused once encrypted (the connection gater), so no MCP session either.
    const err = await dialMcp(outsider.libp2p, multiaddr(x.multiaddrs[0]), { signal: AbortSignal.timeout(10_000) }).then(async (t) => { await t.close(); return undefined }, (e: unknown) => e)
    expect(err).toBeInstanceOf(Error)
    await until('the refused connection to be gone', () => (outsider.libp2p.getConnections(x.libp2p.peerId).length === 0 ? true : undefined), 5_000, 20)
    expect(x.libp2p.getPeers().map(String)).not.toContain(outsider.peerId)
    expect(outsider.tools().map((t) => t.name)).not.toContain('local__echo')
  })
})

describe('across the hop', () => {
  let a: McpNode
  let b: McpNode
  const logsA: Array<Record<string, unknown>> = []
  const logsB: Array<Record<string, unknown>> = []

  /** B hosts "docs": a tool that lists the client's roots, one that reports the request id it got, a prompt, a resource and a template. */
  function docsServer (): McpServer {
    const server = new McpServer({ name: 'docs', version: '1.0.0' })
    server.registerTool('roots', { description: 'the roots of the client that called' }, async () => {
      const { roots } = await server.server.listRoots()
      return { content: [{ type: 'text', text: JSON.stringify(roots) }] }
    })
    server.registerTool('request_id', { description: 'the request id this call carried' }, (extra) =>
      Promise.resolve({ content: [{ type: 'text', text: String(extra._meta?.[REQUEST_ID_META]) }] }))
    server.registerPrompt('greet', { description: 'a greeting', argsSchema: { who: z.string() } }, ({ who }) => ({
      messages: [{ role: 'user', content: { type: 'text', text: `Hello, ${who}!` } }],
    }))
    server.registerResource('readme', 'docs://readme', { mimeType: 'text/plain' }, (uri) => ({ contents: [{ uri: uri.href, text: 'read me' }] }))
    server.registerResource('page', new ResourceTemplate('docs://page/{id}', { list: undefined }), { mimeType: 'text/plain' }, (uri, { id }) => ({
      contents: [{ uri: uri.href, text: `page ${String(id)}` }],
    }))
    // A resource with updates: subscriptions as the upstream sees them, and a tool that changes it.
    server.registerResource('counter', 'docs://counter', { mimeType: 'text/plain' }, (uri) => ({ contents: [{ uri: uri.href, text: String(counter) }] }))
    server.registerTool('bump', { description: 'changes docs://counter' }, async () => {
      counter++
      if (upstreamSubscriptions.has('docs://counter')) await server.server.sendResourceUpdated({ uri: 'docs://counter' })
      return { content: [{ type: 'text', text: String(counter) }] }
    })
    server.server.registerCapabilities({ resources: { subscribe: true } })
    server.server.setRequestHandler(SubscribeRequestSchema, (req) => { upstreamSubscriptions.add(req.params.uri); return {} })
    server.server.setRequestHandler(UnsubscribeRequestSchema, (req) => { upstreamSubscriptions.delete(req.params.uri); return {} })
    return server
  }
  let counter = 0
  const upstreamSubscriptions = new Set<string>()

  async function mesh (): Promise<void> {
    if (a !== undefined) return
    b = await started({}, { logger: capturingLogger(logsB) }, (n) => { void n.addUpstream({ name: 'docs', type: 'in-process', server: docsServer }) })
    a = await started({ bootstrap: [b.multiaddrs[0]!] }, { logger: capturingLogger(logsA) })
    await a.waitForTool('docs__roots', { timeoutMs: 20_000 })
  }

  it('carries the downstream client\'s roots to the upstream server\'s listRoots', async () => {
    await mesh()
    const client = await a.connectClient({ capabilities: { roots: { listChanged: true } } })
    client.setRequestHandler(ListRootsRequestSchema, () => ({ roots: [{ uri: 'file:///home/alice/project', name: 'project' }] }))
    const r = await client.callTool({ name: 'docs__roots', arguments: {} })
    expect(JSON.parse((r.content as Array<{ text: string }>)[0]!.text)).toEqual([{ uri: 'file:///home/alice/project', name: 'project' }])
    // A client without the roots capability: the upstream sees none (not another client's).
    const plain = await a.connectClient()
    const none = await plain.callTool({ name: 'docs__roots', arguments: {} })
    expect((none.content as Array<{ text: string }>)[0]!.text).toBe('[]')
    await client.close()
    await plain.close()
  })

  it('serves prompts as <server>__<prompt> and resources under their own URIs (name prefixed), read across the hop', async () => {
    await mesh()
    const client = await a.connectClient()
    const prompts = (await client.listPrompts()).prompts
    expect(prompts.map((p) => p.name)).toContain('docs__greet')
    const got = await client.getPrompt({ name: 'docs__greet', arguments: { who: 'mesh' } })
    expect(got.messages[0]?.content).toEqual({ type: 'text', text: 'Hello, mesh!' })
    const unknown = await client.getPrompt({ name: 'greet', arguments: { who: 'x' } }).catch((e: unknown) => e)
    expect(unknown).toBeInstanceOf(McpError)
    expect((unknown as McpError).code).toBe(-32602)

    const resources = (await client.listResources()).resources
    expect(resources).toContainEqual(expect.objectContaining({ uri: 'docs://readme', name: 'docs__readme' }))
    expect(resources.map((r) => r.uri)).toEqual(expect.arrayContaining(['mesh://peers', 'mesh://tools']))
    const templates = (await client.listResourceTemplates()).resourceTemplates
    expect(templates).toContainEqual(expect.objectContaining({ uriTemplate: 'docs://page/{id}', name: 'docs__page' }))
    expect((await client.readResource({ uri: 'docs://readme' })).contents).toEqual([{ uri: 'docs://readme', text: 'read me' }])
    expect((await client.readResource({ uri: 'docs://page/7' })).contents).toEqual([{ uri: 'docs://page/7', text: 'page 7' }])
    const missing = await client.readResource({ uri: 'nobody://here' }).catch((e: unknown) => e)
    expect((missing as McpError).code).toBe(-32602)
    await client.close()
  })

  it('carries the request id across peers: the upstream sees it in _meta, both peers log it', async () => {
    await mesh()
    const client = await a.connectClient()
    // given by the client
    const given = await client.callTool({ name: 'docs__request_id', arguments: {}, _meta: { [REQUEST_ID_META]: 'req-from-the-client' } })
    expect((given.content as Array<{ text: string }>)[0]!.text).toBe('req-from-the-client')
    // made up by A when the client gives none, and the same one on B
    const made = await client.callTool({ name: 'docs__request_id', arguments: {} })
    const id = (made.content as Array<{ text: string }>)[0]!.text
    expect(id).toMatch(/^[0-9a-f-]{36}$/)
    const calls = (lines: Array<Record<string, unknown>>): unknown[] => lines.filter((l) => l.msg === 'tools/call').map((l) => l.requestId)
    expect(calls(logsA)).toEqual(expect.arrayContaining(['req-from-the-client', id]))
    expect(calls(logsB)).toEqual(expect.arrayContaining(['req-from-the-client', id]))
    await client.close()
  })

  it('mesh://tools names each tool, its server, its replicas and which replica served how many calls', async () => {
    await mesh()
    const client = await a.connectClient()
    for (let i = 0; i < 3; i++) await client.callTool({ name: 'docs__request_id', arguments: {} })
    const r = await client.readResource({ uri: 'mesh://tools' })
    expect(r.contents[0]?.mimeType).toBe('application/json')
    const tools = JSON.parse((r.contents[0] as { text: string }).text) as Array<{ name: string, server: string, replicas: string[], served: Record<string, number> }>
    const entry = tools.find((t) => t.name === 'docs__request_id')
    expect(entry?.server).toBe('docs')
    expect(entry?.replicas).toEqual([b.peerId])
    // this test's 3, and the 2 of the test before when it ran first
    expect(entry?.served[b.peerId]).toBeGreaterThanOrEqual(3)
    expect(Object.keys(entry?.served ?? {})).toEqual([b.peerId])
    expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(['docs__roots', 'docs__request_id']))
    await client.close()
  })

  it('forwards resources/subscribe and unsubscribe across the hop; resources/updated reaches each subscribed client', async () => {
    await mesh()
    const first = await a.connectClient()
    const second = await a.connectClient({ view: { kind: 'server', server: 'docs' } })
    const updates: Array<[string, string]> = []
    first.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => { updates.push(['first', n.params.uri]) })
    second.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => { updates.push(['second', n.params.uri]) })
    expect(first.getServerCapabilities()?.resources?.subscribe).toBe(true)
    await first.subscribeResource({ uri: 'docs://counter' })
    await second.subscribeResource({ uri: 'docs://counter' })
    expect(upstreamSubscriptions.has('docs://counter')).toBe(true)
    await first.callTool({ name: 'docs__bump', arguments: {} })
    await until('resources/updated on both clients', () => (updates.length >= 2 ? true : undefined), 10_000, 10)
    expect(updates.sort()).toEqual([['first', 'docs://counter'], ['second', 'docs://counter']])
    expect((await first.readResource({ uri: 'docs://counter' })).contents[0]).toMatchObject({ text: String(counter) })
    // One unsubscribes: only the other is told; the upstream keeps its subscription until the last one leaves.
    await first.unsubscribeResource({ uri: 'docs://counter' })
    updates.length = 0
    await second.callTool({ name: 'bump', arguments: {} })
    await until('resources/updated on the second client', () => (updates.length >= 1 ? true : undefined), 10_000, 10)
    expect(updates).toEqual([['second', 'docs://counter']])
    expect(upstreamSubscriptions.has('docs://counter')).toBe(true)
    await second.unsubscribeResource({ uri: 'docs://counter' })
    await until('the upstream subscription to end', () => (upstreamSubscriptions.has('docs://counter') ? undefined : true), 10_000, 10)
    // The built-in resources have nothing to subscribe to.
    const refused = await first.subscribeResource({ uri: 'mesh://peers' }).catch((e: unknown) => e)
    expect((refused as McpError).code).toBe(-32602)
    await first.close()
    await second.close()
  })

  it('serves an MCP client that is not a peer through the libp2p front door (dialMcp + the SDK Client)', async () => {
    await mesh()
    const bare: Libp2p = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionManager: { allow: ['/ip4/127.0.0.0/ipcidr/8'] },
    })
    closers.push(async () => { await bare.stop() })
    const client = new Client({ name: 'not-a-peer', version: '1.0.0' })
    await client.connect(await dialMcp(bare, multiaddr(a.multiaddrs[0]), { signal: AbortSignal.timeout(10_000) }))
    closers.push(async () => { await client.close() })
    const names = (await client.listTools()).tools.map((t) => t.name)
    expect(names).toEqual(expect.arrayContaining(['mesh__status', 'docs__roots', 'docs__request_id']))
    const r = await client.callTool({ name: 'docs__request_id', arguments: {}, _meta: { [REQUEST_ID_META]: 'from-a-bare-libp2p-client' } })
    expect((r.content as Array<{ text: string }>)[0]!.text).toBe('from-a-bare-libp2p-client')
    // its principal is its peer id
    expect(logsA.some((l) => l.msg === 'tools/call' && l.principal === `peer:${bare.peerId.toString()}`)).toBe(true)
  })
})
