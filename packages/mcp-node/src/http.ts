import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createMcpHttpHandler, createMcpHttpServer, defaultAllowedHosts, type AdmissionStats } from '@p2p-mcp/transport/node'
import type { McpNodeConfig } from './config.js'
import { DEFAULT_MAX_BODY_BYTES, POLICY_DENIED_CODE } from './constants.js'
import type { Logger } from './logger.js'
import { createModernFrontDoor } from './modern.js'
import type { RelayOutcome, RelayRequest } from './modern-relay.js'
import type { PolicyDecision } from './policy.js'
import type { FrontSession, SessionView } from './session.js'

/** What the HTTP front door needs from the node. */
export interface HttpHost {
  openSession: (init: { principal: string, view: SessionView }) => FrontSession
  hasServer: (name: string) => boolean
  /** Whether `principal` may call `tool` of `server`. */
  allowed: (principal: string, server: string, tool: string) => PolicyDecision
  /** Relays a 2026-07-28 request as it is to a replica of its server (decision 0072). */
  relay: (request: RelayRequest, signal: AbortSignal) => Promise<RelayOutcome>
  health: () => { status: 'ok' | 'degraded' | 'stopping' }
  metrics: () => Promise<{ contentType: string, body: string }>
  log: Logger
}

/** A running HTTP front door. */
export interface HttpFrontDoor {
  readonly url: URL
  readonly sessionCount: number
  /** What admission holds (sessions, bodies being read, requests in flight, streams) and refusals by limit. */
  stats: () => AdmissionStats & { open: number }
  /** Refuses new sessions (503), keeps serving the open ones. */
  stopAccepting: () => void
  close: () => Promise<void>
}

/** How long a server found to speak only 2025 sessions is served by translation before asking again. */
const LEGACY_RECHECK_MS = 30_000

/** Names the replica that answered a relayed request. */
export const REPLICA_HEADER = 'p2p-mcp-replica'

/** The HTTP response of a relayed answer: one JSON body, or an SSE stream of its messages. */
function relayedResponse (outcome: Extract<RelayOutcome, { kind: 'answer' }>): Response {
  if (!outcome.contentType.includes('text/event-stream')) {
    return new Response(new ReadableStream({
      async pull (controller) {
        const next = await outcome.messages.next()
        if (next.done === true) { controller.close(); return }
        controller.enqueue(new TextEncoder().encode(JSON.stringify(next.value)))
      },
    }), { status: outcome.status, headers: { 'content-type': outcome.contentType === '' ? 'application/json' : outcome.contentType, [REPLICA_HEADER]: outcome.peer } })
  }
  return new Response(new ReadableStream({
    async pull (controller) {
      try {
        const next = await outcome.messages.next()
        if (next.done === true) { controller.close(); return }
        controller.enqueue(new TextEncoder().encode(`event: message\ndata: ${JSON.stringify(next.value)}\n\n`))
      } catch (err) {
        controller.error(err)
      }
    },
    async cancel () { await outcome.messages.return(undefined) },
  }), { status: outcome.status, headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', [REPLICA_HEADER]: outcome.peer } })
}

const SERVER_PATH = /^\/servers\/([A-Za-z0-9][A-Za-z0-9._-]{0,63})\/mcp$/

function reply (res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message }, id: null }))
}

function digest (s: string): Buffer { return createHash('sha256').update(s).digest() }

/** Which view of the mesh a path serves: the whole mesh at `/mcp`, one server at `/servers/<name>/mcp`. */
function viewOf (path: string): SessionView | undefined {
  if (path === '/mcp') return { kind: 'mesh' }
  const m = SERVER_PATH.exec(path)
  return m === null ? undefined : { kind: 'server', server: m[1]! }
}

/**
 * Streamable HTTP on 127.0.0.1 by default: the whole mesh at `/mcp`, each server at
 * `/servers/<name>/mcp` under its original names, both protocol eras on each: 2025-11-25
 * sessions (Host/Origin checks, bearer tokens, SSE keep-alive and resumability:
 * `@p2p-mcp/transport`'s mountable handler) and 2026-07-28 requests (`modern.ts`); plus
 * `/healthz` and `/metrics`. Tokens are compared by sha256 digest in constant time.
 */
export async function startHttpFrontDoor (host: HttpHost, config: McpNodeConfig['http']): Promise<HttpFrontDoor> {
  const tokens = config.tokens.map((t) => ({ hash: digest(t.token), subject: t.subject }))
  const log = host.log

  // Routing, /healthz and /metrics: everything the MCP handler does not take.
  const fallback = async (req: IncomingMessage, res: ServerResponse, auth: { authenticated: boolean }): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname
    if (path === '/healthz' && req.method === 'GET') {
      const h = host.health()
      res.writeHead(h.status === 'ok' ? 200 : 503, { 'content-type': 'application/json' })
      // With tokens configured, the details (peer id, upstream errors, bootstrap addresses) need one (decision 0172).
      res.end(JSON.stringify(auth.authenticated ? h : { status: h.status }))
      return
    }
    if (path === '/metrics' && req.method === 'GET') {
      if (!auth.authenticated) return reply(res, 401, 'Unauthorized')
      const m = await host.metrics()
      res.writeHead(200, { 'content-type': m.contentType })
      res.end(m.body)
      return
    }
    const view = viewOf(path)
    if (view?.kind === 'server') return reply(res, 404, `No server named ${view.server} in the mesh`)
    reply(res, 404, `Not found: ${path} (the mesh is at /mcp, one server at /servers/<name>/mcp)`)
  }

  // The handler needs the bound port (for its Host allow-list): it is attached once listening.
  const http: HttpServer = createMcpHttpServer({ headersTimeoutMs: config.headersTimeoutMs, bodyTimeoutMs: config.bodyTimeoutMs })
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject)
    http.listen(config.port, config.host, () => { http.off('error', reject); resolve() })
  })
  const port = (http.address() as AddressInfo).port
  const hostPort = config.host.includes(':') ? `[${config.host}]:${port}` : `${config.host}:${port}`
  const modern = createModernFrontDoor(host)
  const legacyServers = new Map<string, number>()
  const door = createMcpHttpHandler({
    allowedHosts: config.allowedHosts ?? defaultAllowedHosts(config.host, port),
    ...(tokens.length === 0
      ? {}
      : {
          verifyToken: (token: string) => {
            const h = digest(token)
            const subject = tokens.find((t) => timingSafeEqual(t.hash, h))?.subject
            return subject === undefined ? undefined : { token, clientId: subject, scopes: [] }
          },
        }),
    route: (path) => {
      const view = viewOf(path)
      if (view === undefined || (view.kind === 'server' && !host.hasServer(view.server))) return undefined
      return ({ authInfo }) => {
        const session = host.openSession({ principal: authInfo?.clientId ?? 'anonymous', view })
        return { connect: async (transport) => { await session.server.connect(transport) }, close: async () => { await session.close() } }
      }
    },
    modern: (path) => {
      const view = viewOf(path)
      if (view === undefined || (view.kind === 'server' && !host.hasServer(view.server))) return undefined
      const translated = modern.leg(view)
      if (view.kind !== 'server') return translated
      // One server: relayed as it is when its replicas speak 2026-07-28, translated from 2025 sessions otherwise.
      return async (request, options) => {
        const legacyUntil = legacyServers.get(view.server)
        if (legacyUntil !== undefined && legacyUntil > Date.now()) return await translated(request, options)
        const body = options.parsedBody as { id?: unknown, method?: unknown, params?: { name?: unknown } }
        const id = typeof body?.id === 'string' || typeof body?.id === 'number' ? body.id : null
        const principal = options.authInfo?.clientId ?? 'anonymous'
        if (body?.method === 'tools/call' && typeof body.params?.name === 'string') {
          const d = host.allowed(principal, view.server, body.params.name)
          if (!d.allowed) return Response.json({ jsonrpc: '2.0', id, error: { code: POLICY_DENIED_CODE, message: `tool ${JSON.stringify(body.params.name)} is not allowed for principal ${JSON.stringify(principal)}: ${d.reason}` } })
        }
        const headers: Record<string, string> = {}
        request.headers.forEach((v, k) => { headers[k] = v })
        const outcome = await host.relay({ server: view.server, headers, body: options.parsedBody }, request.signal)
        if (outcome.kind === 'legacy') {
          legacyServers.set(view.server, Date.now() + LEGACY_RECHECK_MS)
          return await translated(request, options)
        }
        if (outcome.kind === 'refused') return Response.json({ jsonrpc: '2.0', id, error: { code: -32603, message: outcome.error } })
        return relayedResponse(outcome)
      }
    },
    fallback,
    maxSessions: config.maxSessions,
    maxSessionsPerPrincipal: config.maxSessionsPerPrincipal,
    idleTimeoutMs: config.idleTimeoutMs,
    unusedIdleTimeoutMs: config.unusedIdleTimeoutMs,
    maxInFlightPerPrincipal: config.maxInFlightPerPrincipal,
    maxStreamsPerPrincipal: config.maxStreamsPerPrincipal,
    maxPendingRequests: config.maxPendingRequests,
    maxPendingBytes: config.maxPendingBytes,
    bodyTimeoutMs: config.bodyTimeoutMs,
    maxBodyBytes: DEFAULT_MAX_BODY_BYTES,
    keepAliveMs: config.sseKeepAliveMs,
    logger: log,
  })
  http.on('request', (req: IncomingMessage, res: ServerResponse) => { void door.handle(req, res) })

  let closed = false
  return {
    url: new URL(`http://${hostPort}/mcp`),
    get sessionCount () { return door.sessionCount },
    stats: () => door.stats(),
    stopAccepting () { door.stopAccepting() },
    async close () {
      if (closed) return
      closed = true
      await door.close()
      await modern.close()
      http.closeAllConnections()
      await new Promise<void>((resolve) => { http.close(() => { resolve() }) })
    },
  }
}
