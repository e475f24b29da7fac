import type { Readable, Writable } from 'node:stream'
import type { IncomingMessage } from 'node:http'
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js'
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js'
import type { Libp2p, PeerId } from '@libp2p/interface'
import type { McpDialTarget } from '../dial.js'
import type { DialMcpOptions, Logger, McpServerLike, ServeMcpOptions } from '../types.js'

/** A child process speaking MCP on its stdin/stdout. */
export interface StdioConnectSpec {
  type: 'stdio'
  /** The executable. */
  command: string
  /** @default [] */
  args?: string[]
  /** Merged over the SDK's safe default environment (PATH, HOME, …). @default {} */
  env?: Record<string, string>
  /** @default the current directory */
  cwd?: string
  /** Receives the child's stderr (never mixed into the protocol). @default lines go to logger.debug */
  onstderr?: (text: string) => void
  /** @default no-op */
  logger?: Logger
}

/** A Streamable HTTP MCP endpoint. */
export interface HttpConnectSpec {
  type: 'http'
  /** The endpoint, e.g. `http://127.0.0.1:3000/mcp`. */
  url: string | URL
  /** Sent with every request, e.g. `{ authorization: 'Bearer …' }`. @default {} */
  headers?: Record<string, string>
}

/** A peer serving `MCP_PROTOCOL` over libp2p. */
export interface Libp2pConnectSpec extends DialMcpOptions {
  type: 'libp2p'
  libp2p: Pick<Libp2p, 'dial'>
  peer: McpDialTarget
}

/** A server started with `serve(factory, { type: 'memory' })`, in this process. */
export interface MemoryConnectSpec {
  type: 'memory'
  server: MemoryServed
}

export type ConnectSpec = StdioConnectSpec | HttpConnectSpec | Libp2pConnectSpec | MemoryConnectSpec

/** Serve one session on this process's stdin/stdout (or the given streams). */
export interface StdioServeSpec {
  type: 'stdio'
  /** @default process.stdin */
  stdin?: Readable
  /** @default process.stdout */
  stdout?: Writable
}

/** Verifies a bearer token; returns who it belongs to, or undefined to refuse it (401). */
export type TokenVerifier = (token: string, request: IncomingMessage) => AuthInfo | undefined | Promise<AuthInfo | undefined>

/** Options of Streamable HTTP sessions, shared by `serve(f, { type: 'http' })` and `createMcpHttpHandler`. */
export interface HttpSessionOptions {
  /** When set, every request needs `Authorization: Bearer <token>` that this accepts; a session stays bound to its `clientId`. @default none */
  verifyToken?: TokenVerifier
  /** Concurrent sessions, counted from the moment an `initialize` is admitted; more get 503 with `Retry-After`. @default 1024 */
  maxSessions?: number
  /** Concurrent sessions of one principal (see `principalOf`); more get 503 with `Retry-After`. @default 256 */
  maxSessionsPerPrincipal?: number
  /**
   * Sessions with nothing in flight, no open stream and no request for this long are closed
   * (`0` disables). @default 1800000 (30 minutes)
   */
  idleTimeoutMs?: number
  /**
   * The idle limit of a session that has made no request but `initialize` and `ping` (a client
   * that connected and went away): closed sooner, so that abandoned sessions do not hold the
   * table (`0`: only `idleTimeoutMs` applies). @default 60000
   */
  unusedIdleTimeoutMs?: number
  /** Largest request body accepted (413 beyond). @default 4194304 (4 MiB) */
  maxBodyBytes?: number
  /** Time to read a request body; past it the request gets 408 and its connection is closed (slow bodies). @default 30000 */
  bodyTimeoutMs?: number
  /** Request bodies being read at once, over all principals; more get 503 with `Retry-After`. @default 1024 */
  maxPendingRequests?: number
  /** Bytes of request bodies being read at once, over all principals; a body that would pass it gets 503. @default 67108864 (64 MiB) */
  maxPendingBytes?: number
  /**
   * POST and DELETE requests of one principal being read or answered at once, over all its
   * sessions and its stateless 2026-07-28 requests; more get 503 with `Retry-After`. @default 256
   */
  maxInFlightPerPrincipal?: number
  /** Long-lived streams of one principal at once (GET event streams, 2026-07-28 `subscriptions/listen`); more get 503. @default 256 */
  maxStreamsPerPrincipal?: number
  /**
   * The key per-principal quotas count by: an opaque string.
   * @default the verified token's `clientId`, else `address:<remote address>`
   */
  principalOf?: (request: IncomingMessage, authInfo: AuthInfo | undefined) => string
  /** An SSE comment this often on every open event stream, so idle proxies keep it (`0` disables). @default 15000 */
  keepAliveMs?: number
  /** The `retry:` an SSE priming event suggests before a client reconnects (SEP-1699). @default 1000 */
  retryIntervalMs?: number
  /** Events kept per session for resumption with `Last-Event-ID` (`0` disables resumability). @default 1024 */
  maxReplayEvents?: number
  /** @default no-op */
  logger?: Logger
}

/** Serve stateful Streamable HTTP sessions. */
export interface HttpServeSpec extends HttpSessionOptions {
  type: 'http'
  /** Interface to listen on. @default '127.0.0.1' */
  host?: string
  /** @default 0 (a free port; read it from `served.url`) */
  port?: number
  /** @default '/mcp' */
  path?: string
  /** Time to receive a request's headers (slowloris); the server's `requestTimeout` is this plus `bodyTimeoutMs`. @default 10000 */
  headersTimeoutMs?: number
  /**
   * Host header values accepted (DNS-rebinding protection). Requests naming another
   * host, or carrying an Origin of another host, get 403.
   *
   * @default `<host>:<port>`, and `localhost:<port>` / `127.0.0.1:<port>` / `[::1]:<port>` on loopback
   */
  allowedHosts?: string[]
}

/** Serve `MCP_PROTOCOL` on a libp2p node (see `serveMcp`). */
export interface Libp2pServeSpec extends Omit<ServeMcpOptions, 'onerror'> {
  type: 'libp2p'
  libp2p: Pick<Libp2p, 'handle' | 'unhandle'>
  onerror?: (error: Error) => void
}

/** Serve in this process: `served.connect()` (or `connect({ type: 'memory', server })`) opens a session. */
export interface MemoryServeSpec {
  type: 'memory'
}

export type ServeSpec = StdioServeSpec | HttpServeSpec | Libp2pServeSpec | MemoryServeSpec

/** One session, as a serve() factory sees it. */
export interface ServeSession {
  transport: 'stdio' | 'http' | 'libp2p' | 'memory'
  /** Set for HTTP and libp2p sessions. */
  sessionId?: string
  /** The authenticated remote peer (libp2p). */
  remotePeer?: PeerId
  /** The principal: the token verifier's result (HTTP) or the peer id (libp2p). */
  authInfo?: AuthInfo
}

export type ServeSessionFactory = (session: ServeSession) => McpServerLike | Promise<McpServerLike>

/** A running service. */
export interface Served {
  /** Stops accepting sessions and closes every open one. Idempotent. */
  close: () => Promise<void>
  /** Sessions open right now. */
  readonly sessionCount: number
  /** The endpoint (HTTP only). */
  readonly url?: URL
}

export interface MemoryServed extends Served {
  /** Opens a new session; returns the client's end. */
  connect: () => Promise<Transport>
}
