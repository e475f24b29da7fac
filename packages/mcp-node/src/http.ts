import { randomUUID, timingSafeEqual, createHash } from 'node:crypto'
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js'
import type { McpNodeConfig } from './config.js'
import { DEFAULT_HTTP_IDLE_TIMEOUT_MS, DEFAULT_MAX_BODY_BYTES } from './constants.js'
import type { Logger } from './logger.js'
import type { SessionView } from './session.js'
import type { FrontSession } from './session.js'

/** What the HTTP front door needs from the node. */
export interface HttpHost {
  openSession: (init: { principal: string, view: SessionView }) => FrontSession
  hasServer: (name: string) => boolean
  health: () => { status: 'ok' | 'degraded' | 'stopping' }
  metrics: () => Promise<{ contentType: string, body: string }>
  log: Logger
}

interface HttpSession {
  transport: StreamableHTTPServerTransport
  session: FrontSession
  principal: string
  path: string
  lastSeen: number
}

/** A running HTTP front door. */
export interface HttpFrontDoor {
  readonly url: URL
  readonly sessionCount: number
  /** Refuses new sessions (503), keeps serving the open ones. */
  stopAccepting: () => void
  close: () => Promise<void>
}

const SERVER_PATH = /^\/servers\/([A-Za-z0-9][A-Za-z0-9._-]{0,63})\/mcp$/

function reply (res: ServerResponse, status: number, message: string, code = -32000): void {
  if (res.headersSent) { res.end(); return }
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }))
}

async function readJson (req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > maxBytes) return new RangeError(`request body larger than ${maxBytes} bytes`)
    chunks.push(chunk)
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown
  } catch (err) {
    return new SyntaxError(`Parse error: ${(err as Error).message}`)
  }
}

function digest (s: string): Buffer { return createHash('sha256').update(s).digest() }

/**
 * Streamable HTTP on 127.0.0.1 by default: the whole mesh at `/mcp`, each server at
 * `/servers/<name>/mcp` under its original names, `/healthz`, `/metrics`. Stateful
 * sessions, Host/Origin checks against DNS rebinding, optional bearer tokens, SSE comments
 * every `sseKeepAliveMs` on open event streams.
 */
export async function startHttpFrontDoor (host: HttpHost, config: McpNodeConfig['http']): Promise<HttpFrontDoor> {
  const sessions = new Map<string, HttpSession>()
  const tokens = config.tokens.map((t) => ({ hash: digest(t.token), subject: t.subject }))
  let allowedHosts = new Set<string>()
  let accepting = true
  let closed = false
  const log = host.log

  const principalOf = (req: IncomingMessage): string | undefined => {
    if (tokens.length === 0) return 'anonymous'
    const token = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1]
    if (token === undefined) return undefined
    const h = digest(token)
    return tokens.find((t) => timingSafeEqual(t.hash, h))?.subject
  }

  const keepAlive = (res: ServerResponse): void => {
    const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => ServerResponse
    ;(res as unknown as { writeHead: (...args: unknown[]) => ServerResponse }).writeHead = (...args: unknown[]) => {
      const out = writeHead(...args)
      let type = String(res.getHeader('content-type') ?? '')
      for (const a of args) {
        if (typeof a !== 'object' || a === null) continue
        for (const [k, v] of Object.entries(a as Record<string, unknown>)) if (k.toLowerCase() === 'content-type') type = String(v)
      }
      if (type.includes('text/event-stream')) {
        const timer = setInterval(() => { if (!res.writableEnded) res.write(': keep-alive\n\n') }, config.sseKeepAliveMs)
        timer.unref()
        res.once('close', () => { clearInterval(timer) })
      }
      return out
    }
  }

  const closeSession = async (id: string): Promise<void> => {
    const s = sessions.get(id)
    if (s === undefined) return
    sessions.delete(id)
    await s.session.close()
  }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    if (!allowedHosts.has((req.headers.host ?? '').toLowerCase())) return reply(res, 403, `Host ${req.headers.host ?? '(none)'} not allowed`)
    const origin = req.headers.origin
    if (origin !== undefined) {
      let originHost: string
      try { originHost = new URL(origin).host.toLowerCase() } catch { originHost = '' }
      if (!allowedHosts.has(originHost)) return reply(res, 403, `Origin ${origin} not allowed`)
    }
    if (url.pathname === '/healthz' && req.method === 'GET') {
      const h = host.health()
      res.writeHead(h.status === 'ok' ? 200 : 503, { 'content-type': 'application/json' })
      res.end(JSON.stringify(h))
      return
    }
    const principal = principalOf(req)
    if (url.pathname === '/metrics' && req.method === 'GET') {
      if (principal === undefined) return reply(res, 401, 'Unauthorized')
      const m = await host.metrics()
      res.writeHead(200, { 'content-type': m.contentType })
      res.end(m.body)
      return
    }
    let view: SessionView
    if (url.pathname === '/mcp') view = { kind: 'mesh' }
    else {
      const m = SERVER_PATH.exec(url.pathname)
      if (m === null) return reply(res, 404, `Not found: ${url.pathname} (the mesh is at /mcp, one server at /servers/<name>/mcp)`)
      view = { kind: 'server', server: m[1]! }
    }
    if (principal === undefined) {
      res.setHeader('WWW-Authenticate', 'Bearer error="invalid_token"')
      return reply(res, 401, 'Unauthorized: a valid bearer token is required')
    }
    const sessionId = req.headers['mcp-session-id']
    if (typeof sessionId === 'string') {
      const s = sessions.get(sessionId)
      if (s === undefined || s.path !== url.pathname) return reply(res, 404, 'Session not found', -32001)
      if (s.principal !== principal) return reply(res, 403, 'Session belongs to another principal')
      s.lastSeen = Date.now()
      keepAlive(res)
      await s.transport.handleRequest(req, res)
      return
    }
    if (req.method !== 'POST') return reply(res, 400, 'Bad Request: no mcp-session-id header')
    if (!accepting || closed) return reply(res, 503, 'This peer is shutting down')
    if (view.kind === 'server' && !host.hasServer(view.server)) return reply(res, 404, `No server named ${view.server} in the mesh`)
    if (sessions.size >= config.maxSessions) return reply(res, 503, `Too many sessions (maxSessions ${config.maxSessions})`)
    const body = await readJson(req, DEFAULT_MAX_BODY_BYTES)
    if (body instanceof Error) return reply(res, body instanceof RangeError ? 413 : 400, body.message, -32700)
    if (!isInitializeRequest(body)) return reply(res, 400, 'Bad Request: no mcp-session-id header and not an initialize request')
    const session = host.openSession({ principal, view })
    const entry: HttpSession = { transport: undefined as unknown as StreamableHTTPServerTransport, session, principal, path: url.pathname, lastSeen: Date.now() }
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => { sessions.set(id, entry) },
      onsessionclosed: (id) => { void closeSession(id) },
    })
    entry.transport = transport
    transport.onclose = () => { if (transport.sessionId !== undefined) void closeSession(transport.sessionId) }
    await session.server.connect(transport)
    keepAlive(res)
    await transport.handleRequest(req, res, body)
    if (transport.sessionId === undefined) await session.close()
  }

  const http: HttpServer = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log.warn('HTTP request failed: %s', (err as Error).message)
      reply(res, 500, 'Internal error')
    })
  })
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject)
    http.listen(config.port, config.host, () => { http.off('error', reject); resolve() })
  })
  const port = (http.address() as AddressInfo).port
  const hostPort = config.host.includes(':') ? `[${config.host}]:${port}` : `${config.host}:${port}`
  const loopback = ['127.0.0.1', 'localhost', '::1'].includes(config.host)
  allowedHosts = new Set((config.allowedHosts ?? (loopback ? [hostPort, `localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`] : [hostPort])).map((h) => h.toLowerCase()))
  const sweep = setInterval(() => {
    const now = Date.now()
    for (const [id, s] of sessions) if (now - s.lastSeen > DEFAULT_HTTP_IDLE_TIMEOUT_MS) void closeSession(id)
  }, 60_000)
  sweep.unref()

  return {
    url: new URL(`http://${hostPort}/mcp`),
    get sessionCount () { return sessions.size },
    stopAccepting () { accepting = false },
    async close () {
      if (closed) return
      closed = true
      clearInterval(sweep)
      await Promise.allSettled([...sessions.keys()].map(closeSession))
      http.closeAllConnections()
      await new Promise<void>((resolve) => { http.close(() => { resolve() }) })
    },
  }
}
