/** Aggregated tool and prompt names: `<server>__<name>`. */
export const NAME_SEPARATOR = '__'
/** Longest tool name many model providers accept. */
export const MAX_TOOL_NAME_LENGTH = 64
/** Hex characters of the sha256 suffix of a hashed name. */
export const NAME_HASH_HEX = 8
/** Name of the built-in server whose tools and resources describe the mesh. */
export const MESH_SERVER = 'mesh'
/** `clientInfo.name` prefix of the upstream sessions peers open to each other; the rest names the server. */
export const ROUTE_CLIENT_PREFIX = 'p2p-mcp/route/'
/** `_meta` key carrying a request id across peers. */
export const REQUEST_ID_META = 'p2p-mcp/requestId'
/** JSON-RPC error code of a call refused by policy. */
export const POLICY_DENIED_CODE = -32003
/** JSON-RPC error code of a request refused by a rate or concurrency limit (HTTP 429's twin; `error.data.retryAfterMs` says when to retry). */
export const RATE_LIMITED_CODE = -32029

/** Where a peer listens when the config names nothing: loopback, a free port. */
export const DEFAULT_LISTEN = '/ip4/127.0.0.1/tcp/0'
export const DEFAULT_HTTP_HOST = '127.0.0.1'
export const DEFAULT_HTTP_PORT = 0
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 2_000
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000
export const DEFAULT_PAGE_SIZE = 100
export const DEFAULT_SSE_KEEPALIVE_MS = 15_000
export const DEFAULT_BOOTSTRAP_RETRY_MIN_MS = 500
export const DEFAULT_BOOTSTRAP_RETRY_MAX_MS = 30_000
export const DEFAULT_RESTART_MIN_MS = 250
export const DEFAULT_RESTART_MAX_MS = 30_000
export const DEFAULT_SHUTDOWN_GRACE_MS = 10_000
export const DEFAULT_HEALTH_INTERVAL_MS = 2_000
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
export const DEFAULT_MAX_HTTP_SESSIONS = 1024
/** Sessions the libp2p door serves in total (other peers' route sessions and libp2p MCP clients). */
export const DEFAULT_LIBP2P_MAX_SESSIONS = 1024
/**
 * Sessions the libp2p door serves to one peer. Downstream sessions without sampling,
 * elicitation, roots or subscriptions share one route session per replica (decision 0155), so
 * this bounds an entry peer's sessions that need their own.
 */
export const DEFAULT_LIBP2P_MAX_SESSIONS_PER_PEER = 256
export const DEFAULT_HTTP_IDLE_TIMEOUT_MS = 30 * 60_000
/** The HTTP front door's admission limits (decision 0170): the same defaults as @p2p-mcp/transport's handler. */
export const HTTP_ADMISSION_DEFAULTS = {
  maxSessionsPerPrincipal: 256,
  idleTimeoutMs: DEFAULT_HTTP_IDLE_TIMEOUT_MS,
  unusedIdleTimeoutMs: 60_000,
  maxInFlightPerPrincipal: 256,
  maxStreamsPerPrincipal: 256,
  maxPendingRequests: 1024,
  maxPendingBytes: 64 * 1024 * 1024,
  headersTimeoutMs: 10_000,
  bodyTimeoutMs: 30_000,
} as const
/** Largest config file read. */
export const MAX_CONFIG_BYTES = 1024 * 1024
/** Deepest nesting of a `tools/call`'s arguments accepted at the front door (objects and arrays). */
export const MAX_ARGUMENT_DEPTH = 64
/** Largest `tools/call` arguments accepted at the front door, as UTF-8 JSON: below the libp2p frame limit (4 MiB) with room for the envelope. */
export const MAX_ARGUMENT_BYTES = 3 * 1024 * 1024
export const DEFAULT_AUDIT_MAX_ENTRIES = 10_000
/** Most entries one `mesh://audit` read returns. */
export const MAX_AUDIT_QUERY_ENTRIES = 1_000
export const DEFAULT_LIMITS_SHARE_INTERVAL_MS = 500
export const DEFAULT_LIMITS_MAX_KEYS = 100_000
