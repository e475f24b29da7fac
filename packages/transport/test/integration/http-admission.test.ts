// Admission at the Streamable HTTP front door (issue 17, items 2 and 3; decisions 0170, 0171):
// real node:http servers on 127.0.0.1, raw sockets for slow bodies, the real SDK client.
// Sessions count from their admission; bodies being read are bounded in number and time;
// each principal has quotas of sessions, requests in flight and streams; refusals are 503 with
// Retry-After naming the limit; sessions that never made a call are closed sooner.
import { connect as connectSocket, type Socket } from 'node:net'
import { createServer, type Server as HttpServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { afterEach, describe, expect, it } from 'vitest'
import { createMcpHttpHandler, defaultAllowedHosts, serve, type McpHttpHandler, type McpHttpHandlerInit } from '../../src/node.js'

const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }
const initialize = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } })
const MODERN_META = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' }, 'io.modelcontextprotocol/clientCapabilities': {} }
const tokens = (token: string) => (token.startsWith('user-') ? { token, clientId: token.slice(5), scopes: [] } : undefined)
const bearer = (who: string): Record<string, string> => ({ authorization: `Bearer user-${who}` })

/** A server whose `hold` tool waits until `release()`; `entered` resolves once `n` calls are inside. */
function holding () {
  let open: () => void = () => {}
  let gate = new Promise<void>((resolve) => { open = resolve })
  let inside = 0
  const waiters: Array<{ n: number, resolve: () => void }> = []
  const make = (): McpServer => {
    const server = new McpServer({ name: 'holding', version: '1.0.0' })
    server.registerTool('hold', {}, async () => {
      inside++
      for (const w of waiters.filter((w) => inside >= w.n)) w.resolve()
      await gate
      return { content: [{ type: 'text', text: 'released' }] }
    })
    server.registerTool('echo', {}, () => ({ content: [{ type: 'text', text: 'echo' }] }))
    return server
  }
  return {
    make,
    entered: async (n: number) => { if (inside < n) await new Promise<void>((resolve) => { waiters.push({ n, resolve }) }) },
    release: () => { open(); gate = new Promise<void>((resolve) => { open = resolve }) },
  }
}

/** Polls until `check` is true (no sleeping on a guess: a bounded wait for an outcome). */
async function until (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

interface HalfSent { socket: Socket, response: Promise<string> }

/** Sends the headers of a POST and the first `sent` bytes of `body`; `response` is all the socket receives until it closes. */
async function halfSent (port: number, body: string, sent: number, extra: Record<string, string> = {}): Promise<HalfSent> {
  const socket = connectSocket(port, '127.0.0.1')
  socket.on('error', () => {})
  await new Promise<void>((resolve) => { socket.once('connect', resolve) })
  let data = ''
  const response = new Promise<string>((resolve) => {
    socket.setEncoding('utf8').on('data', (s: string) => { data += s })
    socket.once('close', () => { resolve(data) })
  })
  const lines = Object.entries({ host: `127.0.0.1:${port}`, ...headers, 'content-length': String(Buffer.byteLength(body)), connection: 'close', ...extra }).map(([k, v]) => `${k}: ${v}`)
  socket.write(`POST /mcp HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n${body.slice(0, sent)}`)
  return { socket, response }
}

describe('HTTP admission', () => {
  const toClose: Array<() => Promise<void>> = []
  afterEach(async () => { for (const c of toClose.splice(0).reverse()) await c().catch(() => {}) })

  async function mount (init: Omit<McpHttpHandlerInit, 'allowedHosts'>): Promise<{ base: string, port: number, handler: McpHttpHandler }> {
    const http: HttpServer = createServer()
    await new Promise<void>((resolve) => { http.listen(0, '127.0.0.1', resolve) })
    const { port } = http.address() as AddressInfo
    const handler = createMcpHttpHandler({ ...init, allowedHosts: defaultAllowedHosts('127.0.0.1', port) })
    http.on('request', (req, res) => { void handler.handle(req, res) })
    toClose.push(async () => {
      await handler.close()
      http.closeAllConnections()
      await new Promise<void>((resolve) => { http.close(() => { resolve() }) })
    })
    return { base: `http://127.0.0.1:${port}/mcp`, port, handler }
  }

  async function client (base: string, who: string): Promise<{ client: Client, transport: StreamableHTTPClientTransport }> {
    const transport = new StreamableHTTPClientTransport(new URL(base), { requestInit: { headers: bearer(who) } })
    const c = new Client({ name: `client-${who}`, version: '1.0.0' })
    await c.connect(transport)
    toClose.push(async () => { await c.close() })
    return { client: c, transport }
  }

  it('counts a session from its admission: initialize bodies completed together open maxSessions sessions, the rest get 503 naming the limit', async () => {
    // A factory that takes its time (as one that does I/O): the window in which admitted sessions are not yet open.
    const { port, handler } = await mount({
      maxSessions: 3,
      route: () => async () => { await new Promise((resolve) => setTimeout(resolve, 20)); return new McpServer({ name: 's', version: '1' }) },
    })
    const flood = await Promise.all(Array.from({ length: 12 }, async () => await halfSent(port, initialize, 30)))
    for (const f of flood) f.socket.write(initialize.slice(30))
    const replies = await Promise.all(flood.map(async (f) => await f.response))
    const opened = replies.filter((r) => /mcp-session-id:/i.test(r))
    const refused = replies.filter((r) => r.startsWith('HTTP/1.1 503'))
    expect(opened).toHaveLength(3)
    expect(refused).toHaveLength(9)
    expect(handler.sessionCount).toBe(3)
    expect(refused[0]).toMatch(/retry-after: \d+/i)
    expect(refused[0]).toContain('maxSessions 3 reached')
    expect(handler.stats()).toMatchObject({ sessions: 3, open: 3, pendingRequests: 0, inFlight: 0, refused: { maxSessions: 9 } })
  })

  it('bounds bodies being read: past maxPendingRequests 503 at once, a stalled body 408 within bodyTimeoutMs, slow headers cut by the server', async () => {
    const { port, base, handler } = await mount({ maxPendingRequests: 2, bodyTimeoutMs: 300, route: () => () => new McpServer({ name: 's', version: '1' }) })
    const stalled = await Promise.all([halfSent(port, initialize, 30), halfSent(port, initialize, 30)])
    await until('both bodies pending', () => handler.stats().pendingRequests === 2)
    const third = await fetch(base, { method: 'POST', headers, body: initialize })
    expect(third.status).toBe(503)
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    const thirdError = (await third.json() as { error: { message: string, data: { limit: string } } }).error
    expect(thirdError.message).toContain('maxPendingRequests 2 reached')
    expect(thirdError.data.limit).toBe('maxPendingRequests')
    // The stalled bodies are answered 408 and their connections closed; their slots are free again.
    for (const r of await Promise.all(stalled.map(async (s) => await s.response))) {
      expect(r).toMatch(/^HTTP\/1\.1 408/)
      expect(r).toContain('bodyTimeoutMs 300')
    }
    expect(handler.stats().pendingRequests).toBe(0)
    expect((await fetch(base, { method: 'POST', headers, body: initialize })).status).toBe(200)

    // serve({ type: 'http' }) bounds the time to send headers: a connection that never finishes them is closed.
    const served = await serve(() => new McpServer({ name: 's', version: '1' }), { type: 'http', headersTimeoutMs: 200 })
    toClose.push(async () => { await served.close() })
    const slow = connectSocket(Number(served.url!.port), '127.0.0.1')
    slow.on('error', () => {})
    const closed = new Promise<string>((resolve) => { let d = ''; slow.setEncoding('utf8').on('data', (s: string) => { d += s }).once('close', () => { resolve(d) }) })
    slow.write('POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\n')
    expect(await closed).toMatch(/^(HTTP\/1\.1 408|)/)
  })

  it('quotas sessions per principal: the fourth of alice is refused (503, Retry-After, the limit named), bob still connects, alice again after a DELETE', async () => {
    const { base } = await mount({ maxSessionsPerPrincipal: 3, verifyToken: tokens, route: () => () => holding().make() })
    const alice = [await client(base, 'alice'), await client(base, 'alice'), await client(base, 'alice')]
    const refused = await fetch(base, { method: 'POST', headers: { ...headers, ...bearer('alice') }, body: initialize })
    expect(refused.status).toBe(503)
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    const error = (await refused.json() as { id: unknown, error: { message: string, data: Record<string, unknown> } })
    expect(error.id).toBe(1)
    expect(error.error.message).toContain('maxSessionsPerPrincipal 3 reached for principal "alice"')
    expect(error.error.message).toContain('DELETE')
    expect(error.error.data).toMatchObject({ name: 'AdmissionLimitError', limit: 'maxSessionsPerPrincipal', value: 3, principal: 'alice' })
    // The SDK client sees the refusal with its message.
    await expect(client(base, 'alice')).rejects.toThrow(/maxSessionsPerPrincipal 3/)
    const bob = await client(base, 'bob')
    expect((await bob.client.callTool({ name: 'echo', arguments: {} })).content).toEqual([{ type: 'text', text: 'echo' }])
    await alice[0]!.transport.terminateSession()
    const again = await client(base, 'alice')
    expect((await again.client.callTool({ name: 'echo', arguments: {} })).isError).not.toBe(true)
  })

  it('closes a session that never made a call after unusedIdleTimeoutMs; a session that made one stays', async () => {
    // Long enough that the working session's first request, sent right after its initialize,
    // lands before the limit even on a loaded machine (200 ms failed there: "Session not found").
    const { base, handler } = await mount({ unusedIdleTimeoutMs: 1_500, verifyToken: tokens, route: () => () => holding().make() })
    // Connects and goes away without a call or a DELETE, as the CLI did.
    const abandoned = await client(base, 'alice')
    const abandonedId = abandoned.transport.sessionId!
    await abandoned.client.close()
    const working = await client(base, 'alice')
    await working.client.listTools()
    await until('the abandoned session closed', () => handler.sessionCount === 1)
    expect((await working.client.callTool({ name: 'echo', arguments: {} })).isError).not.toBe(true)
    const gone = await fetch(base, { method: 'POST', headers: { ...headers, ...bearer('alice'), 'mcp-session-id': abandonedId, 'mcp-protocol-version': '2025-11-25' }, body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }) })
    expect(gone.status).toBe(404)
  })

  it('bounds requests in flight per principal across its sessions and its stateless 2026-07-28 requests', async () => {
    const h = holding()
    const { base, handler } = await mount({
      maxInFlightPerPrincipal: 2,
      verifyToken: tokens,
      route: () => () => h.make(),
      modern: () => () => Promise.resolve(Response.json({ jsonrpc: '2.0', id: 1, result: { tools: [] } })),
    })
    const [a1, a2, a3] = [await client(base, 'alice'), await client(base, 'alice'), await client(base, 'alice')]
    const bob = await client(base, 'bob')
    const held = [a1.client.callTool({ name: 'hold', arguments: {} }), a2.client.callTool({ name: 'hold', arguments: {} })]
    await h.entered(2)
    await expect(a3.client.callTool({ name: 'echo', arguments: {} })).rejects.toThrow(/maxInFlightPerPrincipal 2 reached for principal .+alice/)
    const modern = (who: string) => fetch(base, {
      method: 'POST',
      headers: { ...headers, ...bearer(who), 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/list' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: MODERN_META } }),
    })
    const refused = await modern('alice')
    expect(refused.status).toBe(503)
    expect(refused.headers.get('retry-after')).toBe('1')
    expect((await modern('bob')).status).toBe(200)
    expect((await bob.client.callTool({ name: 'echo', arguments: {} })).isError).not.toBe(true)
    h.release()
    await Promise.all(held)
    await until('alice has nothing in flight', () => handler.stats().inFlight === 0)
    expect((await a3.client.callTool({ name: 'echo', arguments: {} })).isError).not.toBe(true)
    expect((await modern('alice')).status).toBe(200)
  })

  it('bounds long-lived streams per principal: GET event streams and subscriptions/listen', async () => {
    const { base, handler } = await mount({
      maxStreamsPerPrincipal: 1,
      verifyToken: tokens,
      route: () => () => holding().make(),
      // A listen stream that stays open until the client goes.
      modern: () => (request) => Promise.resolve(new Response(new ReadableStream({
        start (c) { c.enqueue(new TextEncoder().encode(': open\n\n')); request.signal.addEventListener('abort', () => { c.close() }) },
      }), { headers: { 'content-type': 'text/event-stream' } })),
    })
    const openSession = async (who: string): Promise<Record<string, string>> => {
      const res = await fetch(base, { method: 'POST', headers: { ...headers, ...bearer(who) }, body: initialize })
      await res.text()
      return { ...bearer(who), accept: 'text/event-stream', 'mcp-session-id': res.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-11-25' }
    }
    const [s1, s2, b1] = [await openSession('alice'), await openSession('alice'), await openSession('bob')]
    const first = new AbortController()
    const stream = await fetch(base, { headers: s1, signal: first.signal })
    expect(stream.status).toBe(200)
    const second = await fetch(base, { headers: s2 })
    expect(second.status).toBe(503)
    expect((await second.json() as { error: { message: string } }).error.message).toContain('maxStreamsPerPrincipal 1 reached for principal "alice"')
    const listen = (who: string, signal?: AbortSignal) => fetch(base, {
      method: 'POST',
      headers: { ...headers, ...bearer(who), 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'subscriptions/listen' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'subscriptions/listen', params: { _meta: MODERN_META } }),
      ...(signal === undefined ? {} : { signal }),
    })
    const refusedListen = await listen('alice')
    expect(refusedListen.status).toBe(503)
    expect((await refusedListen.json() as { id: unknown }).id).toBe(5)
    const bobStream = new AbortController()
    expect((await fetch(base, { headers: b1, signal: bobStream.signal })).status).toBe(200)
    first.abort()
    bobStream.abort()
    await until('the streams closed', () => handler.stats().streams === 0)
    const alicesListen = new AbortController()
    expect((await listen('alice', alicesListen.signal)).status).toBe(200)
    expect(handler.stats().streams).toBe(1)
    alicesListen.abort()
  })
})
