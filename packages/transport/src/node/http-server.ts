import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js'
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js'
import { noopLogger } from '../logger.js'
import { intOption } from '../options.js'
import type { McpServerLike } from '../types.js'
import type { HttpServeSpec, ServeSessionFactory, Served } from './types.js'
import { check } from './validate.js'

const DEFAULT_HTTP_IDLE_TIMEOUT_MS = 30 * 60_000
const DEFAULT_HTTP_MAX_SESSIONS = 1024
const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024

interface HttpSession {
  transport: StreamableHTTPServerTransport
  server: McpServerLike
  principal: string | undefined
  lastSeen: number
}

/** Stateful Streamable HTTP: one transport and one server per `mcp-session-id`. */
export async function serveHttp (factory: ServeSessionFactory, spec: HttpServeSpec): Promise<Served> {
  const host = spec.host ?? '127.0.0.1'
  check(typeof host === 'string' && host.length > 0, 'host', spec.host, "an interface address such as '127.0.0.1'")
  const port = intOption('spec.port', spec.port, 0, 0, 65535)
  const path = spec.path ?? '/mcp'
  check(typeof path === 'string' && path.startsWith('/'), 'path', spec.path, "a path starting with '/'")
  check(spec.allowedHosts === undefined || (Array.isArray(spec.allowedHosts) && spec.allowedHosts.every((h) => typeof h === 'string')),
    'allowedHosts', spec.allowedHosts, 'an array of host[:port] strings')
  check(spec.verifyToken === undefined || typeof spec.verifyToken === 'function', 'verifyToken', spec.verifyToken,
    'a function (token, request) => AuthInfo | undefined')
  const maxSessions = intOption('spec.maxSessions', spec.maxSessions, DEFAULT_HTTP_MAX_SESSIONS, 1)
  const idleTimeoutMs = intOption('spec.idleTimeoutMs', spec.idleTimeoutMs, DEFAULT_HTTP_IDLE_TIMEOUT_MS, 0)
  const maxBodyBytes = intOption('spec.maxBodyBytes', spec.maxBodyBytes, DEFAULT_MAX_BODY_BYTES, 1)
  const log = spec.logger ?? noopLogger
  const verifyToken = spec.verifyToken

  const sessions = new Map<string, HttpSession>()
  let allowedHosts = new Set<string>()
  let closed = false

  const closeSession = async (id: string): Promise<void> => {
    const session = sessions.get(id)
    if (session === undefined) return
    sessions.delete(id)
    await session.server.close().catch((err: unknown) => { log.debug('closing HTTP session %s: %s', id, (err as Error).message) })
  }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://placeholder')
    if (url.pathname !== path) return reply(res, 404, 'Not found')
    // DNS-rebinding protection: a page on another origin must not reach this server.
    if (!allowedHosts.has((req.headers.host ?? '').toLowerCase())) return reply(res, 403, `Host ${req.headers.host ?? '(none)'} not allowed`)
    const origin = req.headers.origin
    if (origin !== undefined && !allowedHosts.has(hostOf(origin))) return reply(res, 403, `Origin ${origin} not allowed`)

    let auth: AuthInfo | undefined
    if (verifyToken !== undefined) {
      const header = req.headers.authorization ?? ''
      const token = /^Bearer (.+)$/i.exec(header)?.[1]
      auth = token === undefined ? undefined : await verifyToken(token, req)
      if (auth === undefined) {
        res.setHeader('WWW-Authenticate', `Bearer error="invalid_token", error_description="${token === undefined ? 'missing bearer token' : 'token refused'}"`)
        return reply(res, 401, 'Unauthorized')
      }
    }
    const principal = auth?.clientId

    const sessionId = req.headers['mcp-session-id']
    if (typeof sessionId === 'string') {
      const session = sessions.get(sessionId)
      if (session === undefined) return reply(res, 404, 'Session not found', -32001)
      if (session.principal !== principal) return reply(res, 403, 'Session belongs to another principal')
      session.lastSeen = Date.now()
      await session.transport.handleRequest(Object.assign(req, { auth }), res)
      return
    }
    if (req.method !== 'POST') return reply(res, 400, 'Bad Request: no mcp-session-id header')
    const body = await readJson(req, maxBodyBytes)
    if (body instanceof Error) return reply(res, body.message.startsWith('body') ? 413 : 400, body.message, -32700)
    if (!isInitializeRequest(body)) return reply(res, 400, 'Bad Request: no mcp-session-id header and not an initialize request')
    if (closed) return reply(res, 503, 'Server is closing')
    if (sessions.size >= maxSessions) return reply(res, 503, `Too many sessions (maxSessions ${maxSessions})`)

    const server = await factory({ transport: 'http', ...(auth === undefined ? {} : { authInfo: auth }) })
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      // Called from handleRequest below, after `session` exists.
      onsessioninitialized: (id) => { sessions.set(id, session) },
      onsessionclosed: (id) => { void closeSession(id) },
    })
    const session: HttpSession = { transport, server, principal, lastSeen: Date.now() }
    transport.onclose = () => { if (transport.sessionId !== undefined) void closeSession(transport.sessionId) }
    await server.connect(transport)
    await transport.handleRequest(Object.assign(req, { auth }), res, body)
    if (transport.sessionId === undefined) await server.close()
  }

  const http = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log.warn('HTTP MCP request failed: %s', (err as Error).message)
      if (!res.headersSent) reply(res, 500, 'Internal error')
      else res.end()
    })
  })
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject)
    http.listen(port, host, () => { http.off('error', reject); resolve() })
  })
  const bound = (http.address() as AddressInfo).port
  const hostPort = host.includes(':') ? `[${host}]:${bound}` : `${host}:${bound}`
  allowedHosts = new Set((spec.allowedHosts ?? defaultHosts(host, bound, hostPort)).map((h) => h.toLowerCase()))

  const sweep = idleTimeoutMs === 0
    ? undefined
    : setInterval(() => {
      const now = Date.now()
      for (const [id, s] of sessions) if (now - s.lastSeen > idleTimeoutMs) void closeSession(id)
    }, Math.min(idleTimeoutMs, 60_000))
  sweep?.unref()

  return {
    url: new URL(`http://${hostPort}${path}`),
    get sessionCount () { return sessions.size },
    async close () {
      if (closed) return
      closed = true
      if (sweep !== undefined) clearInterval(sweep)
      await Promise.all([...sessions.keys()].map(closeSession))
      http.closeAllConnections()
      await new Promise<void>((resolve) => { http.close(() => { resolve() }) })
    },
  }
}

function defaultHosts (host: string, port: number, hostPort: string): string[] {
  const loopback = host === '127.0.0.1' || host === 'localhost' || host === '::1'
  return loopback ? [hostPort, `localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`] : [hostPort]
}

function hostOf (origin: string): string {
  try { return new URL(origin).host.toLowerCase() } catch { return '' }
}

function reply (res: ServerResponse, status: number, message: string, code = -32000): void {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }))
}

async function readJson (req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > maxBytes) return new Error(`body larger than maxBodyBytes ${maxBytes}`)
    chunks.push(chunk)
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown
  } catch (err) {
    return new Error(`Parse error: ${(err as Error).message}`)
  }
}
