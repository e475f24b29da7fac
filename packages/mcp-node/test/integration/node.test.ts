// Nodes in this process: identity kept in the data dir, a crashing stdio upstream restarted
// with backoff while the rest of the session keeps working, the HTTP front door, per-tool timeouts, graceful stop.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createMcpNode, type McpNode } from '../../src/index.js'
import { calcServer, until } from './peers.js'

let dir: string
const nodes: McpNode[] = []

beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'mcp-node-one-')) })
afterAll(async () => {
  await Promise.allSettled(nodes.map(async (n) => { await n.stop({ graceMs: 1_000 }) }))
  await rm(dir, { recursive: true, force: true })
})

describe('nodes in this process', () => {
  it('keeps its peer id across restarts in the same data dir', async () => {
    const first = createMcpNode({ dataDir: join(dir, 'id'), http: { enabled: false } })
    await first.start()
    const id = first.peerId
    await first.stop()
    const second = createMcpNode({ dataDir: join(dir, 'id'), http: { enabled: false } })
    nodes.push(second)
    await second.start()
    expect(second.peerId).toBe(id)
    await second.stop()
  })

  it('restarts a crashed stdio upstream with backoff; its tools leave and return, the rest keep working', async () => {
    const node = createMcpNode({ heartbeatIntervalMs: 300, upstreams: [{ name: 'calc', type: 'stdio', command: process.execPath, args: [calcServer] }] })
    nodes.push(node)
    const echo = ({ text }: { text: string }): Promise<CallToolResult> => Promise.resolve({ content: [{ type: 'text', text }] })
    node.registerTool('echo', { inputSchema: { text: z.string() } }, echo)
    await node.start()
    await node.waitForTool('calc__whoami', { timeoutMs: 20_000 })
    await node.waitForTool('local__echo', { timeoutMs: 20_000 })
    const client = await node.connectClient()
    let changes = 0
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => { changes++ })
    const who = await client.callTool({ name: 'calc__whoami', arguments: {} })
    const pid = (who.structuredContent as { pid: number }).pid
    process.kill(pid, 'SIGKILL')

    await until('calc tools gone', async () => ((await client.listTools()).tools.some((t) => t.name.startsWith('calc__')) ? undefined : true), 15_000)
    expect(changes).toBeGreaterThanOrEqual(1)
    const health = node.health()
    expect(health.status).toBe('degraded')
    expect(health.reasons.join('\n')).toMatch(/upstream calc is (restarting|starting)/)
    // the same session still works for the rest of the mesh
    expect(await client.callTool({ name: 'local__echo', arguments: { text: 'still here' } })).toMatchObject({ content: [{ type: 'text', text: 'still here' }] })

    await until('calc back', async () => ((await client.listTools()).tools.some((t) => t.name === 'calc__whoami') ? true : undefined), 20_000)
    const again = await client.callTool({ name: 'calc__whoami', arguments: {} })
    expect((again.structuredContent as { pid: number }).pid).not.toBe(pid)
    expect(node.health().upstreams.find((u) => u.name === 'calc')?.restarts).toBeGreaterThanOrEqual(1)
    await client.close()
  })

  it('guards its HTTP front door: DNS rebinding, bearer tokens, pagination, SSE keep-alive, metrics', async () => {
    const token = 'secret-token-0123456789'
    const node = createMcpNode({ pageSize: 2, http: { tokens: [{ token, subject: 'ops' }], sseKeepAliveMs: 200 } })
    nodes.push(node)
    for (const name of ['a', 'b', 'c']) {
      const tool = (): Promise<CallToolResult> => Promise.resolve({ content: [{ type: 'text', text: name }] })
      node.registerTool(name, { description: `tool ${name}` }, tool)
    }
    await node.start()
    await node.waitForTool('local__c', { timeoutMs: 20_000 })
    const url = node.httpUrl!.href
    const init = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } })
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }
    // DNS rebinding: a foreign Host or Origin is refused before anything else
    const rebound = await fetch(url, { method: 'POST', headers: { ...headers, authorization: `Bearer ${token}`, origin: 'http://evil.example' }, body: init })
    expect(rebound.status).toBe(403)
    // no or wrong token
    expect((await fetch(url, { method: 'POST', headers, body: init })).status).toBe(401)
    expect((await fetch(url, { method: 'POST', headers: { ...headers, authorization: 'Bearer wrong-token-0000000000' }, body: init })).status).toBe(401)
    // a session, then its SSE stream gets keep-alive comments
    const res = await fetch(url, { method: 'POST', headers: { ...headers, authorization: `Bearer ${token}` }, body: init })
    expect(res.status).toBe(200)
    const sid = res.headers.get('mcp-session-id')!
    await res.text()
    const auth = { ...headers, authorization: `Bearer ${token}`, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' }
    await fetch(url, { method: 'POST', headers: auth, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) })
    const controller = new AbortController()
    const sse = await fetch(url, { method: 'GET', headers: { ...auth, accept: 'text/event-stream' }, signal: controller.signal })
    expect(sse.headers.get('content-type')).toContain('text/event-stream')
    const reader = (sse.body as ReadableStream<Uint8Array>).getReader()
    let seen = ''
    await until('an SSE keep-alive comment', async () => {
      const { value } = await reader.read()
      seen += new TextDecoder().decode(value)
      return /^: keep-?alive/m.test(seen) ? true : undefined
    }, 5_000, 0)
    controller.abort()
    // pagination: 21 tools (mesh__status, the 4 control-plane tools, the 5 trust tools, the 6 workflow tools, the 2 event tools and local__a..c) in pages of 2
    const client = await node.connectClient()
    const pages = [await client.listTools()]
    while (pages.at(-1)!.nextCursor !== undefined) pages.push(await client.listTools({ cursor: pages.at(-1)!.nextCursor! }))
    expect(pages.map((p) => p.tools.length)).toEqual([2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1])
    expect(pages.flatMap((p) => p.tools).map((t) => t.name)).toEqual([
      'mesh__status', 'mesh__control_status', 'mesh__policy_get', 'mesh__policy_set', 'mesh__control_snapshot',
      'mesh__trust_get', 'mesh__trust_pin', 'mesh__trust_unpin', 'mesh__peer_ban', 'mesh__peer_unban',
      'mesh__submit_workflow', 'mesh__workflow_status', 'mesh__list_workflows', 'mesh__cancel_workflow', 'mesh__network_status', 'mesh__rebalance',
      'mesh__publish_event', 'mesh__query_events',
      'local__a', 'local__b', 'local__c',
    ])
    await client.callTool({ name: 'local__a', arguments: {} })
    const metrics = await (await fetch(url.replace(/\/mcp$/, '/metrics'), { headers: { authorization: `Bearer ${token}` } })).text()
    expect(metrics).toMatch(/p2p_mcp_tool_calls_total\{tool="local__a",peer="[^"]+",outcome="ok"\} 1/)
    expect(metrics).toMatch(/p2p_mcp_control_term \d+/)
    expect(metrics).toMatch(/p2p_mcp_tool_call_duration_seconds_bucket\{/)
    await client.close()
  })

  it('times calls out per tool, and progress extends the timeout', async () => {
    const node = createMcpNode({
      http: { enabled: false },
      timeouts: { defaultMs: 60_000, tools: { calc__slow_count: 400 } },
      upstreams: [{ name: 'calc', type: 'stdio', command: process.execPath, args: [calcServer] }],
    })
    nodes.push(node)
    await node.start()
    await node.waitForTool('calc__slow_count', { timeoutMs: 20_000 })
    const client = await node.connectClient()
    // 5 steps of 150 ms: 750 ms in all, but a progress notification every 150 ms keeps it alive
    const long = await client.callTool({ name: 'calc__slow_count', arguments: { n: 5, delayMs: 150 } })
    expect((long.content as Array<{ text: string }>)[0]?.text).toBe('counted to 5')
    // one silent step of 1.5 s: over the tool's 400 ms
    const started = Date.now()
    const err = await client.callTool({ name: 'calc__slow_count', arguments: { n: 1, delayMs: 1_500 } }).catch((e: unknown) => e as Error)
    expect(err).toBeInstanceOf(Error)
    expect((err as Error).message).toMatch(/timed out|timeout/i)
    expect(Date.now() - started).toBeLessThan(1_400)
    await client.close()
  })

  it('stops gracefully: withdraws from the mesh, finishes calls in flight, then closes', async () => {
    const b = createMcpNode({ http: { enabled: false }, heartbeatIntervalMs: 5_000, upstreams: [{ name: 'calc', type: 'stdio', command: process.execPath, args: [calcServer] }] })
    nodes.push(b)
    await b.start()
    const a = createMcpNode({ http: { enabled: false }, heartbeatIntervalMs: 5_000, bootstrap: [b.multiaddrs[0]!] })
    nodes.push(a)
    await a.start()
    await a.waitForTool('calc__slow_count', { timeoutMs: 20_000 })
    const client = await a.connectClient()
    const progress: number[] = []
    const call = client.callTool({ name: 'calc__slow_count', arguments: { n: 6, delayMs: 100 } }, undefined, { onprogress: (p) => { progress.push(p.progress) } })
    await until('the call under way on B', () => (progress.length >= 1 ? true : undefined), 5_000, 10)
    const gone = new Promise<void>((resolve) => {
      const check = (): void => { if (!a.tools().some((t) => t.name === 'calc__slow_count')) { a.removeEventListener('mesh:changed', check); resolve() } }
      a.addEventListener('mesh:changed', check)
    })
    const stopped = b.stop({ graceMs: 5_000 })
    // withdrawn at once (a heartbeat of 5 s would take 15 s to notice), yet the call in flight finishes
    await gone
    const result = await call
    expect((result.content as Array<{ text: string }>)[0]?.text).toBe('counted to 6')
    expect(progress).toEqual([1, 2, 3, 4, 5, 6])
    await stopped
    expect(b.health().status).toBe('stopping')
    await client.close()
  })
})
