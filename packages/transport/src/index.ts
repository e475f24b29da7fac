/**
 * @packageDocumentation
 *
 * MCP over libp2p streams: `dialMcp()` gives an SDK `Client` a `Transport` to a peer,
 * `serveMcp()` serves an MCP server to every peer that opens a session, one session per
 * stream under `/p2p-mcp/mcp/1.0.0`, each JSON-RPC message a varint length-prefixed UTF-8
 * JSON frame. Frame limits, backpressure, idle timeouts, session limits and an authorize
 * hook are built in, and the remote peer id reaches tool handlers as `extra.authInfo`.
 * The root entry is portable; `@p2p-mcp/transport/node` adds one `connect()` / `serve()`
 * for stdio, Streamable HTTP, libp2p and in-memory transports.
 */
export { MCP_PROTOCOL, DEFAULT_MAX_FRAME_BYTES, LIMIT_REFUSED_CODE } from './constants.js'
export { dialMcp } from './dial.js'
export type { McpDialTarget } from './dial.js'
export { serveMcp } from './serve.js'
export { OrderedTransport } from './ordered-transport.js'
export {
  FrameTooLargeError, IdleTimeoutError, InFlightLimitError, InvalidFrameError, InvalidMessageError, InvalidParametersError,
  PeerRefusedError, SendQueueFullError, SessionEvictedError, SessionLimitError, TransportClosedError,
} from './errors.js'
export type {
  DialMcpOptions, FrameOptions, Logger, McpServerFactory, McpServerLike, McpSessionInfo, McpTransport,
  ServeMcpOptions, Unserve,
} from './types.js'
