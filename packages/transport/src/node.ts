/**
 * @packageDocumentation
 *
 * One `connect()` and one `serve()` for every transport a peer uses: stdio (child
 * processes), Streamable HTTP, libp2p and in-memory pairs. Node-only (stdio and HTTP).
 */
export { connect } from './node/connect.js'
export { serve } from './node/serve.js'
export {
  createMcpHttpHandler, defaultAllowedHosts, DEFAULT_HTTP_IDLE_TIMEOUT_MS, DEFAULT_HTTP_MAX_SESSIONS, DEFAULT_MAX_BODY_BYTES,
  DEFAULT_SSE_KEEP_ALIVE_MS, DEFAULT_SSE_RETRY_MS, SESSION_PROTOCOL_VERSIONS,
} from './node/http-handler.js'
export type { HttpFallback, McpHttpHandler, McpHttpHandlerInit, ModernLeg } from './node/http-handler.js'
export {
  AdmissionLimitError, createMcpHttpServer, RequestBodyTimeoutError, DEFAULT_HTTP_BODY_TIMEOUT_MS, DEFAULT_HTTP_HEADERS_TIMEOUT_MS,
  DEFAULT_HTTP_MAX_IN_FLIGHT_PER_PRINCIPAL, DEFAULT_HTTP_MAX_PENDING_BYTES, DEFAULT_HTTP_MAX_PENDING_REQUESTS, DEFAULT_HTTP_MAX_SESSIONS_PER_PRINCIPAL,
  DEFAULT_HTTP_MAX_STREAMS_PER_PRINCIPAL, DEFAULT_HTTP_UNUSED_IDLE_TIMEOUT_MS,
} from './node/admission.js'
export type { AdmissionLimit, AdmissionStats, McpHttpServerInit } from './node/admission.js'
export { memoryEventStore, DEFAULT_MAX_REPLAY_EVENTS } from './node/event-store.js'
export type { MemoryEventStore } from './node/event-store.js'
export type {
  ConnectSpec, HttpConnectSpec, HttpServeSpec, HttpSessionOptions, Libp2pConnectSpec, Libp2pServeSpec, MemoryConnectSpec, MemoryServeSpec,
  MemoryServed, ServeSession, ServeSessionFactory, ServeSpec, Served, StdioConnectSpec, StdioServeSpec, TokenVerifier,
} from './node/types.js'
