import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js'
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js'
import { errorMessage } from '../errors.js'
import { noopLogger } from '../logger.js'
import { intOption } from '../options.js'
import type { McpServerLike } from '../types.js'
import { AdmissionLimitError, createAdmission, DEFAULT_HTTP_BODY_TIMEOUT_MS, DEFAULT_HTTP_UNUSED_IDLE_TIMEOUT_MS, RequestBodyTimeoutError, type AdmissionStats, type Release } from './admission.js'
import { DEFAULT_MAX_REPLAY_EVENTS, memoryEventStore, type MemoryEventStore } from './event-store.js'
import type { HttpSessionOptions, ServeSessionFactory } from './types.js'
import { check } from './validate.js'

export const DEFAULT_HTTP_IDLE_TIMEOUT_MS = 30 * 60_000
export { DEFAULT_HTTP_MAX_SESSIONS } from './admission.js'
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
export const DEFAULT_SSE_KEEP_ALIVE_MS = 15_000
export const DEFAULT_SSE_RETRY_MS = 1_000

/** What a request that no MCP path takes is handed to (after the Host/Origin checks). */
export type HttpFallback = (req: IncomingMessage, res: ServerResponse, auth: { authenticated: boolean, authInfo?: AuthInfo }) => void | Promise<void>

/**
 * Serves one MCP 2026-07-28 request (stateless: no session, the protocol version and client
 * capabilities in the request's `_meta`), fetch-shaped: for example the `fetch` of SDK v2's
 * `createMcpHandler(factory, { legacy: 'reject' })`. `parsedBody` is the body already read.
 */
export type ModernLeg = (request: Request, options: { authInfo?: AuthInfo, parsedBody: unknown }) => Promise<Response>

/** Protocol revisions served by sessions (`initialize`); a request naming any other one is modern. */
export const SESSION_PROTOCOL_VERSIONS: readonly string[] = ['2024-11-05', '2025-03-26', '2025-06-18', '2025-11-25']

/** Options of {@link createMcpHttpHandler}. */
export interface McpHttpHandlerInit extends HttpSessionOptions {
  /**
   * Which server a new session on `path` talks to: a factory, or `undefined` when `path`
   * serves no MCP (the request goes to `fallback`). Called once per new session.
   */
  route: (path: string) => ServeSessionFactory | undefined
  /** Host header values accepted (DNS-rebinding protection); an Origin must name one of them too. */
  allowedHosts: string[]
  /** Answers requests on paths `route` does not take. @default 404 */
  fallback?: HttpFallback
  /**
   * The 2026-07-28 leg of `path`: requests without `Mcp-Session-Id` whose `_meta` carries
   * `io.modelcontextprotocol/protocolVersion` (or whose `MCP-Protocol-Version` header names a
   * revision newer than the session ones) go there instead of to a session. `undefined`: such
   * requests are refused with an unsupported-protocol-version error that carries their id.
   * @default none (sessions only)
   */
  modern?: (path: string) => ModernLeg | undefined
}

/** A Streamable HTTP front door to mount on a `node:http` server. */
export interface McpHttpHandler {
  /** Serves one request: an MCP session request on a routed path, or hands it to `fallback`. */
  handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>
  /** Sessions open right now. */
  readonly sessionCount: number
  /** What admission holds right now (sessions counted from their reservation, bodies being read, requests in flight, streams) and refusals by limit. */
  stats: () => AdmissionStats & { open: number }
  /** New sessions get 503; open sessions keep being served. */
  stopAccepting: () => void
  /** Closes every session and refuses new ones. Idempotent. */
  close: () => Promise<void>
}

interface HttpSession {
  transport: StreamableHTTPServerTransport
  server: McpServerLike
  events: MemoryEventStore | undefined
  principal: string | undefined
  /** What its quotas count by (`principalOf`). */
  quotaKey: string
  path: string
  lastSeen: number
  /** Requests in flight and streams open on it: a session with any is never idle. */
  active: number
  /** Whether it made a request other than `initialize` and `ping`. */
  used: boolean
  /** Gives its slot back to the admission counters. */
  release: Release
}

/** Requests that do not make a session "used" (decision 0171). */
const HANDSHAKE = new Set(['initialize', 'ping'])

/** The request body was read (or refused, with the reply sent): the parsed JSON, or `REPLIED`. */
const REPLIED: unique symbol = Symbol('replied')

/**
 * Stateful Streamable HTTP (MCP 2025-11-25 sessions) on any number of paths of one HTTP server:
 * one transport and one server from `route(path)` per `Mcp-Session-Id`, each session bound to
 * its path and principal; Host/Origin checks; bearer tokens; an idle sweep; SSE keep-alive
 * comments, priming events with `retry:` and replay after `Last-Event-ID` from a bounded
 * per-session event store. Error replies carry the request's id when it is known.
 *
 * Admission (decision 0170): a session counts from the moment its `initialize` is admitted;
 * bodies are read within `bodyTimeoutMs` and bounded in number and bytes while they are read;
 * each principal has a quota of sessions, requests in flight and long-lived streams; a refusal
 * is a 503 with `Retry-After` naming the limit. Sessions that never made a call close after
 * `unusedIdleTimeoutMs` (decision 0171).
 */
export function createMcpHttpHandler (init: McpHttpHandlerInit): McpHttpHandler {
  check(typeof init?.route === 'function', 'route', init?.route, 'a function (path) => factory | undefined')
  check(Array.isArray(init.allowedHosts) && init.allowedHosts.every((h) => typeof h === 'string'), 'allowedHosts', init.allowedHosts, 'an array of host[:port] strings')
  check(init.verifyToken === undefined || typeof init.verifyToken === 'function', 'verifyToken', init.verifyToken, 'a function (token, request) => AuthInfo | undefined')
  check(init.fallback === undefined || typeof init.fallback === 'function', 'fallback', init.fallback, 'a function (req, res, auth) => void')
  check(init.principalOf === undefined || typeof init.principalOf === 'function', 'principalOf', init.principalOf, 'a function (request, authInfo) => string')
  const idleTimeoutMs = intOption('spec.idleTimeoutMs', init.idleTimeoutMs, DEFAULT_HTTP_IDLE_TIMEOUT_MS, 0)
  const unusedIdleTimeoutMs = intOption('spec.unusedIdleTimeoutMs', init.unusedIdleTimeoutMs, DEFAULT_HTTP_UNUSED_IDLE_TIMEOUT_MS, 0)
  const maxBodyBytes = intOption('spec.maxBodyBytes', init.maxBodyBytes, DEFAULT_MAX_BODY_BYTES, 1)
  const bodyTimeoutMs = intOption('spec.bodyTimeoutMs', init.bodyTimeoutMs, DEFAULT_HTTP_BODY_TIMEOUT_MS, 1)
  const keepAliveMs = intOption('spec.keepAliveMs', init.keepAliveMs, DEFAULT_SSE_KEEP_ALIVE_MS, 0)
  const retryIntervalMs = intOption('spec.retryIntervalMs', init.retryIntervalMs, DEFAULT_SSE_RETRY_MS, 0)
  const maxReplayEvents = intOption('spec.maxReplayEvents', init.maxReplayEvents, DEFAULT_MAX_REPLAY_EVENTS, 0)
  const allowedHosts = new Set(init.allowedHosts.map((h) => h.toLowerCase()))
  const { route, verifyToken } = init
  const principalOf = init.principalOf ?? ((req: IncomingMessage, authInfo?: AuthInfo) => authInfo?.clientId ?? `address:${req.socket.remoteAddress ?? 'unknown'}`)
  const fallback: HttpFallback = init.fallback ?? ((req, res) => { reply(res, 404, `Not found: ${req.url ?? '/'}`) })
  const log = init.logger ?? noopLogger

  const sessions = new Map<string, HttpSession>()
  let accepting = true
  let closed = false

  /** How long a session may stay idle: the shorter limit while it has made no call; undefined: forever. */
  const idleLimit = (s: HttpSession): number | undefined => {
    const limits = [idleTimeoutMs, s.used ? 0 : unusedIdleTimeoutMs].filter((ms) => ms > 0)
    return limits.length === 0 ? undefined : Math.min(...limits)
  }
  const sweepEveryMs = Math.max(50, Math.min(60_000, ...[idleTimeoutMs, unusedIdleTimeoutMs].filter((ms) => ms > 0).map((ms) => ms / 2)))
  /** Answers of `secondsToFreeSlot` for a second: a flood of refusals must not scan the table each time. */
  const freeSlotCache = new Map<string, { until: number, seconds: number }>()
  /** Seconds until an idle session (of `quotaKey`, or any) is swept: when a refused session may be admitted. */
  const secondsToFreeSlot = (quotaKey: string | undefined): number => {
    const now = Date.now()
    const cached = freeSlotCache.get(quotaKey ?? '')
    if (cached !== undefined && cached.until > now) return cached.seconds
    if (freeSlotCache.size >= 1024) freeSlotCache.clear()
    const seconds = scanForFreeSlot(quotaKey, now)
    freeSlotCache.set(quotaKey ?? '', { until: now + 1_000, seconds })
    return seconds
  }
  const scanForFreeSlot = (quotaKey: string | undefined, now: number): number => {
    let soonest = Infinity
    for (const s of sessions.values()) {
      const limit = idleLimit(s)
      if (s.active > 0 || limit === undefined || (quotaKey !== undefined && s.quotaKey !== quotaKey)) continue
      soonest = Math.min(soonest, s.lastSeen + limit - now + sweepEveryMs)
    }
    return Number.isFinite(soonest) ? soonest / 1000 : Math.max(unusedIdleTimeoutMs, 1_000) / 1000
  }
  const admission = createAdmission(init, (limit, quotaKey) =>
    limit === 'maxSessions' ? secondsToFreeSlot(undefined) : limit === 'maxSessionsPerPrincipal' ? secondsToFreeSlot(quotaKey) : 1)

  const refuse = (res: ServerResponse, err: AdmissionLimitError, id: string | number | null = null): void => {
    log.debug('HTTP request refused: %s', err.message)
    if (res.headersSent) { res.end(); return }
    // The body may be unread: the connection is not reused.
    res.writeHead(503, { 'content-type': 'application/json', 'retry-after': String(err.retryAfterSeconds), connection: 'close' })
    res.end(JSON.stringify({
      jsonrpc: '2.0',
      error: { code: -32000, message: err.message, data: { name: err.name, limit: err.limit, value: err.value, principal: err.principal, retryAfterSeconds: err.retryAfterSeconds } },
      id,
    }))
  }

  /** Reads a JSON body within the pending bounds and `bodyTimeoutMs`; replies itself when it cannot. */
  const readBody = async (req: IncomingMessage, res: ServerResponse): Promise<unknown> => {
    const pending = admission.pending()
    if (pending instanceof AdmissionLimitError) { refuse(res, pending); return REPLIED }
    try {
      const body = await readJson(req, { maxBytes: maxBodyBytes, timeoutMs: bodyTimeoutMs, grow: pending.grow })
      if (body instanceof AdmissionLimitError) { refuse(res, body); return REPLIED }
      if (body instanceof RequestBodyTimeoutError) {
        res.setHeader('connection', 'close')
        reply(res, 408, body.message)
        return REPLIED
      }
      if (body instanceof Error) {
        if (body instanceof RangeError) res.setHeader('connection', 'close')
        reply(res, body instanceof RangeError ? 413 : 400, body.message, -32700)
        return REPLIED
      }
      return body
    } finally {
      pending.release()
    }
  }

  const closeSession = async (id: string): Promise<void> => {
    const session = sessions.get(id)
    if (session === undefined) return
    sessions.delete(id)
    session.release()
    session.events?.clear()
    await session.server.close().catch((err: unknown) => { log.debug('closing HTTP session %s: %s', id, errorMessage(err)) })
  }

  const authenticate = async (req: IncomingMessage): Promise<{ authenticated: boolean, authInfo?: AuthInfo, refused?: string }> => {
    if (verifyToken === undefined) return { authenticated: true }
    const token = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1]
    const authInfo = token === undefined ? undefined : await verifyToken(token, req)
    if (authInfo !== undefined) return { authenticated: true, authInfo }
    return { authenticated: false, refused: token === undefined ? 'missing bearer token' : 'token refused' }
  }

  /** A request on an open session: counted in flight (POST, DELETE) or as a stream (GET) of its principal and of the session. */
  const serveInSession = async (session: HttpSession, req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const ticket = req.method === 'GET' ? admission.stream(session.quotaKey) : admission.inFlight(session.quotaKey)
    if (ticket instanceof AdmissionLimitError) return refuse(res, ticket)
    session.active++
    session.lastSeen = Date.now()
    res.once('close', () => { ticket(); session.active--; session.lastSeen = Date.now() })
    let body: unknown
    if (req.method === 'POST') {
      body = await readBody(req, res)
      if (body === REPLIED) return
      if (makesUse(body)) session.used = true
    }
    await session.transport.handleRequest(req, res, body)
  }

  /** An `initialize` admitted under its reservation: the session counts from now, whether or not it opens. */
  const openSession = async (factory: ServeSessionFactory, req: IncomingMessage & { auth?: AuthInfo }, res: ServerResponse, body: unknown, who: { principal: string | undefined, quotaKey: string, authInfo: AuthInfo | undefined, path: string }, release: Release): Promise<void> => {
    let entry: HttpSession | undefined
    try {
      const server = await factory({ transport: 'http', ...(who.authInfo === undefined ? {} : { authInfo: who.authInfo }) })
      const events = maxReplayEvents === 0 ? undefined : memoryEventStore(maxReplayEvents)
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        // Called from handleRequest below, after `entry` exists.
        onsessioninitialized: (sid) => { sessions.set(sid, entry!) },
        onsessionclosed: (sid) => { void closeSession(sid) },
        keepAliveMs,
        maxRequestBodySize: maxBodyBytes,
        ...(events === undefined ? {} : { eventStore: events, ...(retryIntervalMs === 0 ? {} : { retryInterval: retryIntervalMs }) }),
      })
      const session: HttpSession = { transport, server, events, principal: who.principal, quotaKey: who.quotaKey, path: who.path, lastSeen: Date.now(), active: 1, used: false, release }
      entry = session
      res.once('close', () => { session.active--; session.lastSeen = Date.now() })
      transport.onclose = () => { if (transport.sessionId !== undefined) void closeSession(transport.sessionId) }
      await server.connect(transport)
      await transport.handleRequest(req, res, body)
      if (transport.sessionId === undefined) await server.close()
    } finally {
      // Registered sessions give their slot back when they close; anything else gives it back now.
      const sid = entry?.transport.sessionId
      if (sid === undefined || !sessions.has(sid)) release()
    }
  }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://placeholder')
    // DNS-rebinding protection: a page on another origin must not reach this server.
    if (!allowedHosts.has((req.headers.host ?? '').toLowerCase())) return reply(res, 403, `Host ${req.headers.host ?? '(none)'} not allowed`)
    const origin = req.headers.origin
    if (origin !== undefined && !allowedHosts.has(hostOf(origin))) return reply(res, 403, `Origin ${origin} not allowed`)
    const auth = await authenticate(req)

    const sessionId = req.headers['mcp-session-id']
    const session = typeof sessionId === 'string' ? sessions.get(sessionId) : undefined
    const factory = session === undefined ? route(url.pathname) : undefined
    const modernLeg = session === undefined ? init.modern?.(url.pathname) : undefined
    if (session === undefined && factory === undefined && modernLeg === undefined) return await fallback(req, res, auth)
    if (!auth.authenticated) {
      res.setHeader('WWW-Authenticate', `Bearer error="invalid_token", error_description="${auth.refused ?? 'token refused'}"`)
      return reply(res, 401, 'Unauthorized: a valid bearer token is required')
    }
    const principal = auth.authInfo?.clientId
    const withAuth = Object.assign(req, auth.authInfo === undefined ? {} : { auth: auth.authInfo })
    if (typeof sessionId === 'string') {
      if (session === undefined || session.path !== url.pathname) return reply(res, 404, 'Session not found', -32001)
      if (session.principal !== principal) return reply(res, 403, 'Session belongs to another principal')
      return await serveInSession(session, withAuth, res)
    }
    if (req.method !== 'POST') return reply(res, 400, 'Bad Request: no Mcp-Session-Id header')
    const quotaKey = principalOf(req, auth.authInfo)
    const inFlight = admission.inFlight(quotaKey)
    if (inFlight instanceof AdmissionLimitError) return refuse(res, inFlight)
    res.once('close', inFlight)
    const body = await readBody(req, res)
    if (body === REPLIED) return
    const id = requestId(body)
    if (isModern(req, body)) {
      if (modernLeg === undefined) return reply(res, 400, `Unsupported protocol version: ${url.pathname} serves MCP ${SESSION_PROTOCOL_VERSIONS.at(-1)!} sessions only (send initialize)`, -32602, id)
      if (!accepting || closed) return reply(res, 503, 'Service unavailable: this server is shutting down', -32000, id)
      if ((body as { method?: unknown }).method === 'subscriptions/listen') {
        // A long-lived stream, not a request in flight.
        const stream = admission.stream(quotaKey)
        if (stream instanceof AdmissionLimitError) return refuse(res, stream, id)
        inFlight()
        res.once('close', stream)
      }
      return await serveModern(modernLeg, req, res, body, auth.authInfo)
    }
    if (factory === undefined) return reply(res, 400, 'Bad Request: this path serves MCP 2026-07-28 requests only (no sessions)', -32600, id)
    if (!isInitializeRequest(body)) return reply(res, 400, 'Bad Request: no Mcp-Session-Id header and not an initialize request', -32000, id)
    if (!accepting || closed) return reply(res, 503, 'Service unavailable: this server is shutting down', -32000, id)
    const reservation = admission.session(quotaKey)
    if (reservation instanceof AdmissionLimitError) return refuse(res, reservation, id)
    await openSession(factory, withAuth, res, body, { principal, quotaKey, authInfo: auth.authInfo, path: url.pathname }, reservation)
  }

  const sweep = idleTimeoutMs === 0 && unusedIdleTimeoutMs === 0
    ? undefined
    : setInterval(() => {
      const now = Date.now()
      for (const [id, s] of sessions) {
        const limit = idleLimit(s)
        if (s.active === 0 && limit !== undefined && now - s.lastSeen > limit) void closeSession(id)
      }
    }, sweepEveryMs)
  sweep?.unref()

  return {
    async handle (req, res) {
      try {
        await handle(req, res)
      } catch (err) {
        log.warn('HTTP MCP request failed: %s', errorMessage(err))
        if (!res.headersSent) reply(res, 500, 'Internal error', -32603)
        else res.end()
      }
    },
    get sessionCount () { return sessions.size },
    stats: () => ({ ...admission.stats(), open: sessions.size }),
    stopAccepting () { accepting = false },
    async close () {
      if (closed) return
      closed = true
      if (sweep !== undefined) clearInterval(sweep)
      await Promise.all([...sessions.keys()].map(closeSession))
    },
  }
}

/** Whether a message (or a batch) holds a request other than `initialize` and `ping`. */
function makesUse (body: unknown): boolean {
  return (Array.isArray(body) ? body : [body]).some((m) =>
    typeof m === 'object' && m !== null && 'id' in m && typeof (m as { method?: unknown }).method === 'string' && !HANDSHAKE.has((m as { method: string }).method))
}

/** Whether a session-less request claims the 2026-07-28 protocol (the envelope in `_meta`, or the header). */
function isModern (req: IncomingMessage, body: unknown): boolean {
  const header = req.headers['mcp-protocol-version']
  if (typeof header === 'string' && header !== '' && !SESSION_PROTOCOL_VERSIONS.includes(header)) return true
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return false
  const meta = (body as { params?: { _meta?: Record<string, unknown> } }).params?._meta
  return typeof meta === 'object' && meta !== null && 'io.modelcontextprotocol/protocolVersion' in meta
}

/** Hands a request to a fetch-shaped leg and streams its response back (SSE included). */
async function serveModern (leg: ModernLeg, req: IncomingMessage, res: ServerResponse, body: unknown, authInfo: AuthInfo | undefined): Promise<void> {
  const aborted = new AbortController()
  res.once('close', () => { aborted.abort() })
  const headers = new Headers()
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v)
  const request = new Request(new URL(req.url ?? '/', `http://${req.headers.host ?? 'localhost'}`), {
    method: req.method ?? 'POST', headers, body: JSON.stringify(body), signal: aborted.signal,
  })
  const response = await leg(request, { parsedBody: body, ...(authInfo === undefined ? {} : { authInfo }) })
  const out: Record<string, string> = {}
  response.headers.forEach((v, k) => { out[k] = v })
  res.writeHead(response.status, out)
  if (response.body === null) { res.end(); return }
  const reader = response.body.getReader()
  res.once('close', () => { void reader.cancel().catch(() => {}) })
  for (;;) {
    const chunk: { done: true, value?: undefined } | { done: false, value: Uint8Array } = await reader.read().catch(() => ({ value: undefined, done: true as const }))
    if (chunk.done) break
    res.write(chunk.value)
  }
  res.end()
}

/** Host header values accepted by default for a server bound to `host:port`. */
export function defaultAllowedHosts (host: string, port: number): string[] {
  const hostPort = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
  const loopback = host === '127.0.0.1' || host === 'localhost' || host === '::1'
  return loopback ? [hostPort, `localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`] : [hostPort]
}

function hostOf (origin: string): string {
  try { return new URL(origin).host.toLowerCase() } catch { return '' }
}

function requestId (body: unknown): string | number | null {
  const id = (typeof body === 'object' && body !== null && !Array.isArray(body)) ? (body as { id?: unknown }).id : undefined
  return typeof id === 'string' || typeof id === 'number' ? id : null
}

/** A JSON-RPC error reply; `id` is the request's when it is known (JSON-RPC 2.0: null only when it is not). */
export function reply (res: ServerResponse, status: number, message: string, code = -32000, id: string | number | null = null): void {
  if (res.headersSent) { res.end(); return }
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id }))
}

/** Reads and parses a JSON body: the value, or the error to answer with (nothing throws). */
async function readJson (req: IncomingMessage, o: { maxBytes: number, timeoutMs: number, grow: (bytes: number) => AdmissionLimitError | undefined }): Promise<unknown> {
  return await new Promise<unknown>((resolve) => {
    const chunks: Buffer[] = []
    let size = 0
    const finish = (value: unknown): void => {
      clearTimeout(timer)
      req.off('data', onData).off('end', onEnd).off('error', onAbort).off('close', onAbort)
      resolve(value)
    }
    const onData = (chunk: Buffer): void => {
      size += chunk.length
      if (size > o.maxBytes) return finish(new RangeError(`request body larger than maxBodyBytes ${o.maxBytes}`))
      const refused = o.grow(chunk.length)
      if (refused !== undefined) return finish(refused)
      chunks.push(chunk)
    }
    const onEnd = (): void => {
      try {
        finish(JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown)
      } catch (err) {
        finish(new SyntaxError(`Parse error: ${errorMessage(err)}`))
      }
    }
    const onAbort = (): void => { finish(new SyntaxError('the client closed the connection before the end of the request body')) }
    const timer = setTimeout(() => { finish(new RequestBodyTimeoutError(o.timeoutMs, size)) }, o.timeoutMs)
    timer.unref()
    req.on('data', onData).once('end', onEnd).once('error', onAbort).once('close', onAbort)
  })
}
