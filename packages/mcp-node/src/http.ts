import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createMcpHttpHandler, createMcpHttpServer, defaultAllowedHosts, type AdmissionStats } from '@p2p-mcp/transport/node'
import { HttpAuth } from './auth/http-auth.js'
import { identityOfAuth, type Identity, type Principal } from './auth/principal.js'
import type { McpNodeConfig } from './config.js'
import { errorMessage } from './errors.js'
import { DEFAULT_MAX_BODY_BYTES, RATE_LIMITED_CODE } from './constants.js'
import type { Logger } from './logger.js'
import { createModernFrontDoor } from './modern.js'
import type { RelayOutcome, RelayRequest } from './modern-relay.js'
import type { AccessControl, AccessRequest } from './access-control.js'
import type { AuditedMethod } from './audit/audit-log.js'
import { meshName } from './naming.js'
import type { FrontSession, SessionView } from './session.js'

/** What the HTTP front door needs from the node. */
export interface HttpHost {
  openSession: (init: { principal: Principal, scopes: readonly string[], view: SessionView }) => FrontSession
  hasServer: (name: string) => boolean
  /** Policy, limits and audit of the requests relayed as they are (the rest go through sessions). */
  access: AccessControl
  /** Relays a 2026-07-28 request as it is to a replica of its server (decision 0072). */
  relay: (request: RelayRequest, signal: AbortSignal, caller?: Identity) => Promise<RelayOutcome>
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

/** The access request of a 2026-07-28 request relayed as it is, when it is one the mesh audits. */
function relayedAccess (server: string, principal: string, scopes: readonly string[] | undefined, body: { method?: unknown, params?: { name?: unknown, uri?: unknown } }): AccessRequest | undefined {
  const name = body?.params?.name
  const uri = body?.params?.uri
  let target: { method: AuditedMethod, target: string, kind: AccessRequest['kind'] }
  if (body?.method === 'tools/call' && typeof name === 'string') target = { method: 'tools/call', target: meshName(server, name), kind: 'tool' }
  else if (body?.method === 'prompts/get' && typeof name === 'string') target = { method: 'prompts/get', target: meshName(server, name), kind: 'prompt' }
  else if (body?.method === 'resources/read' && typeof uri === 'string') target = { method: 'resources/read', target: uri, kind: 'resource' }
  else return undefined
  return { ...target, principal, server, role: 'entry', enforce: true, ...(scopes === undefined ? {} : { scopes }) }
}

/** A JSON-RPC error answer; a rate-limit refusal also says `Retry-After` (whole seconds, rounded up). */
export function errorResponse (id: string | number | null, error: { code: number, message: string, data?: unknown }): Response {
  const retryAfterMs = (error.data as { retryAfterMs?: unknown } | undefined)?.retryAfterMs
  const headers: Record<string, string> = error.code === RATE_LIMITED_CODE && typeof retryAfterMs === 'number' ? { 'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) } : {}
  const message = error.message.replace(/^MCP error -?\d+: /, '')
  return Response.json({ jsonrpc: '2.0', id, error: { code: error.code, message, ...(error.data === undefined ? {} : { data: error.data }) } }, { headers })
}

/**
 * A 2026-07-28 answer (one JSON body) refused by a rate or concurrency limit gets `Retry-After`
 * too, like the answers built here; other answers pass untouched.
 */
async function withRetryAfter (res: Response): Promise<Response> {
  if (!(res.headers.get('content-type') ?? '').includes('application/json')) return res
  const text = await res.clone().text()
  if (!text.includes(String(RATE_LIMITED_CODE))) return res
  let body: { error?: { code?: unknown, data?: { retryAfterMs?: unknown } } }
  try { body = JSON.parse(text) as typeof body } catch { return res }
  const retryAfterMs = body.error?.code === RATE_LIMITED_CODE ? body.error.data?.retryAfterMs : undefined
  if (typeof retryAfterMs !== 'number') return res
  const headers = new Headers(res.headers)
  headers.set('retry-after', String(Math.max(1, Math.ceil(retryAfterMs / 1000))))
  return new Response(text, { status: res.status, statusText: res.statusText, headers })
}

const SERVER_PATH = /^\/servers\/([A-Za-z0-9][A-Za-z0-9._-]{0,63})\/mcp$/

function reply (res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message }, id: null }))
}

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
 * `/healthz` and `/metrics`. Who a request is (static tokens, OAuth access tokens, the
 * RFC 9728 metadata and challenges) is `auth/http-auth.ts`'s to decide, before the handler.
 */
export async function startHttpFrontDoor (host: HttpHost, config: McpNodeConfig['http']): Promise<HttpFrontDoor> {
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
  const allowedHosts = config.allowedHosts ?? defaultAllowedHosts(config.host, port)
  const auth = new HttpAuth({ config, origin: `http://${hostPort}`, allowedHosts: new Set(allowedHosts.map((h) => h.toLowerCase())), logger: log })
  const modern = createModernFrontDoor(host)
  const legacyServers = new Map<string, number>()
  const door = createMcpHttpHandler({
    allowedHosts,
    // Checked by `auth.admit` before the handler sees the request.
    ...(auth.enabled ? { verifyToken: (_token: string, req: IncomingMessage) => auth.authInfoOf(req) } : {}),
    route: (path) => {
      const view = viewOf(path)
      if (view === undefined || (view.kind === 'server' && !host.hasServer(view.server))) return undefined
      return ({ authInfo }) => {
        const session = host.openSession({ ...identityOfAuth(authInfo), view })
        return { connect: async (transport) => { await session.server.connect(transport) }, close: async () => { await session.close() } }
      }
    },
    modern: (path) => {
      const view = viewOf(path)
      if (view === undefined || (view.kind === 'server' && !host.hasServer(view.server))) return undefined
      const leg = modern.leg(view)
      const translated: typeof leg = async (request, options) => await withRetryAfter(await leg(request, options))
      if (view.kind !== 'server') return translated
      // One server: relayed as it is when its replicas speak 2026-07-28, translated from 2025 sessions otherwise.
      return async (request, options) => {
        const legacyUntil = legacyServers.get(view.server)
        if (legacyUntil !== undefined && legacyUntil > Date.now()) return await translated(request, options)
        const body = options.parsedBody as { id?: unknown, method?: unknown, params?: { name?: unknown } }
        const id = typeof body?.id === 'string' || typeof body?.id === 'number' ? body.id : null
        const { principal, scopes } = identityOfAuth(options.authInfo)
        const req = relayedAccess(view.server, principal, scopes, body)
        const admitted = req === undefined ? undefined : host.access.admit(req)
        if (admitted?.ok === false) return errorResponse(id, admitted.error)
        const headers: Record<string, string> = {}
        request.headers.forEach((v, k) => { headers[k] = v })
        let outcome: RelayOutcome
        try {
          outcome = await host.relay({ server: view.server, headers, body: options.parsedBody }, request.signal, { principal, scopes })
        } catch (err) {
          admitted?.finish('error', undefined, (err as Error).message)
          throw err
        }
        if (outcome.kind === 'legacy') {
          // Translated through a session, which checks and audits the request itself.
          admitted?.drop()
          legacyServers.set(view.server, Date.now() + LEGACY_RECHECK_MS)
          return await translated(request, options)
        }
        if (outcome.kind === 'refused') {
          admitted?.finish(outcome.code === RATE_LIMITED_CODE ? 'rate_limited' : 'error', undefined, outcome.error)
          return errorResponse(id, { code: outcome.code ?? -32603, message: outcome.error, ...(outcome.data === undefined ? {} : { data: outcome.data }) })
        }
        // Audited when the answer starts (its body may stream on).
        admitted?.finish('ok', outcome.peer)
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
  http.on('request', (req: IncomingMessage, res: ServerResponse) => {
    void auth.admit(req, res).then(async (admitted) => { if (admitted) await door.handle(req, res) }, (err: unknown) => {
      log.warn('authenticating a request failed: %s', errorMessage(err))
      if (!res.headersSent) reply(res, 500, 'authentication failed')
    })
  })

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
