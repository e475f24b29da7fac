import { createHash, timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createMcpHttpHandler, defaultAllowedHosts } from '@p2p-mcp/transport/node'
import type { McpNodeConfig } from './config.js'
import { DEFAULT_HTTP_IDLE_TIMEOUT_MS, DEFAULT_MAX_BODY_BYTES } from './constants.js'
import type { Logger } from './logger.js'
import type { FrontSession, SessionView } from './session.js'

/** What the HTTP front door needs from the node. */
export interface HttpHost {
  openSession: (init: { principal: string, view: SessionView }) => FrontSession
  hasServer: (name: string) => boolean
  health: () => { status: 'ok' | 'degraded' | 'stopping' }
  metrics: () => Promise<{ contentType: string, body: string }>
  log: Logger
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
 * `/servers/<name>/mcp` under its original names (sessions, Host/Origin checks, bearer tokens,
 * SSE keep-alive and resumability: `@p2p-mcp/transport`'s mountable handler), plus `/healthz`
 * and `/metrics`. Tokens are compared by sha256 digest in constant time.
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
      res.end(JSON.stringify(h))
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
  const http: HttpServer = createServer()
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject)
    http.listen(config.port, config.host, () => { http.off('error', reject); resolve() })
  })
  const port = (http.address() as AddressInfo).port
  const hostPort = config.host.includes(':') ? `[${config.host}]:${port}` : `${config.host}:${port}`
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
    fallback,
    maxSessions: config.maxSessions,
    idleTimeoutMs: DEFAULT_HTTP_IDLE_TIMEOUT_MS,
    maxBodyBytes: DEFAULT_MAX_BODY_BYTES,
    keepAliveMs: config.sseKeepAliveMs,
    logger: log,
  })
  http.on('request', (req: IncomingMessage, res: ServerResponse) => { void door.handle(req, res) })

  let closed = false
  return {
    url: new URL(`http://${hostPort}/mcp`),
    get sessionCount () { return door.sessionCount },
    stopAccepting () { door.stopAccepting() },
    async close () {
      if (closed) return
      closed = true
      await door.close()
      http.closeAllConnections()
      await new Promise<void>((resolve) => { http.close(() => { resolve() }) })
    },
  }
}
