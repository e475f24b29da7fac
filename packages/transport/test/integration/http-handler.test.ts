// The mountable Streamable HTTP handler: several paths on one server, sessions bound to path and
// principal, SSE resumability (SEP-1699: priming event with retry, replay after Last-Event-ID),
// error replies that carry the request id, SDK keep-alive comments.
import { createServer, type Server as HttpServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { afterEach, describe, expect, it } from 'vitest'
import { createMcpHttpHandler, defaultAllowedHosts, type McpHttpHandler, type McpHttpHandlerInit } from '../../src/node.js'

const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }
const initialize = (id: number | string = 1): string => JSON.stringify({ jsonrpc: '2.0', id, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } })

function counter (name: string): McpServer {
  const server = new McpServer({ name, version: '1.0.0' })
  server.registerTool('count', { description: 'progress n times, then the total' }, async (extra) => {
    const n = 6
    for (let i = 1; i <= n; i++) {
      await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: extra._meta?.progressToken ?? 0, progress: i, total: n } })
      await new Promise((resolve) => setTimeout(resolve, 80))
    }
    return { content: [{ type: 'text', text: `${name} counted to ${n}` }] }
  })
  return server
}

interface SseEvent { id?: string, retry?: number, data?: string }

/** Reads SSE events from a response body until `stop` says so. */
async function readEvents (res: Response, stop: (events: SseEvent[], comments: string[]) => boolean): Promise<{ events: SseEvent[], comments: string[] }> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader()
  const decoder = new TextDecoder()
  const events: SseEvent[] = []
  const comments: string[] = []
  let buffer = ''
  while (!stop(events, comments)) {
    const { value, done } = await reader.read()
    if (done) break
    buffer += decoder.decode(value, { stream: true })
    let end: number
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      const event: SseEvent = {}
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) comments.push(line)
        else if (line.startsWith('id:')) event.id = line.slice(3).trim()
        else if (line.startsWith('retry:')) event.retry = Number(line.slice(6))
        else if (line.startsWith('data:')) event.data = (event.data ?? '') + line.slice(5).trim()
      }
      if (event.id !== undefined || event.data !== undefined) events.push(event)
    }
  }
  await reader.cancel().catch(() => {})
  return { events, comments }
}

describe('createMcpHttpHandler', () => {
  const toClose: Array<() => Promise<void>> = []
  afterEach(async () => { for (const c of toClose.splice(0).reverse()) await c() })

  async function mount (init: Omit<McpHttpHandlerInit, 'allowedHosts'>): Promise<{ base: string, handler: McpHttpHandler }> {
    const http: HttpServer = createServer()
    await new Promise<void>((resolve) => { http.listen(0, '127.0.0.1', resolve) })
    const { port } = http.address() as AddressInfo
    const h = createMcpHttpHandler({ ...init, allowedHosts: defaultAllowedHosts('127.0.0.1', port) })
    http.on('request', (req, res) => { void h.handle(req, res) })
    toClose.push(async () => {
      await h.close()
      http.closeAllConnections()
      await new Promise<void>((resolve) => { http.close(() => { resolve() }) })
    })
    return { base: `http://127.0.0.1:${port}`, handler: h }
  }

  async function open (url: string, extra: Record<string, string> = {}): Promise<Record<string, string>> {
    const res = await fetch(url, { method: 'POST', headers: { ...headers, ...extra }, body: initialize() })
    expect(res.status).toBe(200)
    await res.text()
    const session = { ...headers, ...extra, 'mcp-session-id': res.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-11-25' }
    await (await fetch(url, { method: 'POST', headers: session, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) })).text()
    return session
  }

  it('serves several paths, binds each session to its path, hands other paths to the fallback', async () => {
    const { base, handler } = await mount({
      route: (path) => (path === '/a/mcp' ? () => counter('a') : path === '/b/mcp' ? () => counter('b') : undefined),
      fallback: (_req, res) => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end('fallback') },
    })
    const a = await open(`${base}/a/mcp`)
    await open(`${base}/b/mcp`)
    expect(handler.sessionCount).toBe(2)
    expect(await (await fetch(`${base}/healthz`)).text()).toBe('fallback')
    // a session id is only valid on the path that opened it
    const wrongPath = await fetch(`${base}/b/mcp`, { method: 'POST', headers: a, body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }) })
    expect(wrongPath.status).toBe(404)
    // an error reply carries the request id when the request has one
    const notInit = await fetch(`${base}/a/mcp`, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id: 'req-7', method: 'tools/list' }) })
    expect(notInit.status).toBe(400)
    expect(await notInit.json()).toMatchObject({ id: 'req-7', error: { code: -32000 } })
    handler.stopAccepting()
    const refused = await fetch(`${base}/a/mcp`, { method: 'POST', headers, body: initialize(9) })
    expect(refused.status).toBe(503)
    expect(await refused.json()).toMatchObject({ id: 9 })
  })

  it('binds a session to the principal of its bearer token', async () => {
    const { base } = await mount({
      route: () => () => counter('a'),
      verifyToken: (token) => (token.startsWith('user-') ? { token, clientId: token.slice(5), scopes: [] } : undefined),
    })
    expect((await fetch(`${base}/mcp`, { method: 'POST', headers, body: initialize() })).status).toBe(401)
    const alice = await open(`${base}/mcp`, { authorization: 'Bearer user-alice' })
    const asBob = await fetch(`${base}/mcp`, { method: 'POST', headers: { ...alice, authorization: 'Bearer user-bob' }, body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }) })
    expect(asBob.status).toBe(403)
    const asAlice = await fetch(`${base}/mcp`, { method: 'POST', headers: alice, body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/list' }) })
    expect(asAlice.status).toBe(200)
    expect(await asAlice.text()).toContain('count')
  })

  it('resumes an SSE stream after a disconnect: priming event with retry, replay after Last-Event-ID, no event lost', async () => {
    const { base } = await mount({ route: () => () => counter('a'), retryIntervalMs: 250, keepAliveMs: 50 })
    const session = await open(`${base}/mcp`)
    const call = JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'count', arguments: {}, _meta: { progressToken: 'p' } } })
    const controller = new AbortController()
    const first = await fetch(`${base}/mcp`, { method: 'POST', headers: session, body: call, signal: controller.signal })
    expect(first.headers.get('content-type')).toContain('text/event-stream')
    // the priming event (an id, no data, a retry field), then two progress notifications; then the client drops
    const before = await readEvents(first, (events) => events.filter((e) => e.data !== undefined).length >= 2)
    controller.abort()
    expect(before.events[0]).toMatchObject({ retry: 250 })
    expect(before.events[0]?.data ?? '').toBe('')
    const lastId = before.events.at(-1)!.id!
    // resume: everything after the last event seen, up to the response
    // (409 until the server has noticed the old connection is gone: a client waits `retry` ms and tries again)
    let resumed: Response | undefined
    for (let attempt = 0; attempt < 40 && resumed?.status !== 200; attempt++) {
      if (resumed !== undefined) { expect(resumed.status).toBe(409); await resumed.text(); await new Promise((resolve) => setTimeout(resolve, 250)) }
      resumed = await fetch(`${base}/mcp`, { method: 'GET', headers: { ...session, accept: 'text/event-stream', 'last-event-id': lastId } })
    }
    expect(resumed!.status).toBe(200)
    const after = await readEvents(resumed!, (events) => events.some((e) => e.data?.includes('"result"') === true))
    const messages = [...before.events, ...after.events].filter((e) => e.data !== undefined && e.data !== '').map((e) => JSON.parse(e.data!) as { method?: string, params?: { progress?: number }, result?: { content: Array<{ text: string }> } })
    expect(messages.filter((m) => m.method === 'notifications/progress').map((m) => m.params?.progress)).toEqual([1, 2, 3, 4, 5, 6])
    expect(messages.at(-1)?.result?.content[0]?.text).toBe('a counted to 6')
    // and the SDK's keep-alive comments, not a patched writeHead, keep idle streams open
    const idle = await fetch(`${base}/mcp`, { method: 'GET', headers: { ...session, accept: 'text/event-stream' } })
    const { comments } = await readEvents(idle, (_events, seen) => seen.length > 0)
    expect(comments[0]).toMatch(/^: ?keep-?alive/)
  })
})
