import type { Logger } from './logger.js'
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js'
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js'
import type { PeerId } from '@libp2p/interface'

export type { Logger } from './logger.js'

/**
 * What a transport needs from an MCP server: the SDK's `McpServer` and `Server` both
 * fit, and so does anything else that speaks over a `Transport`.
 */
export interface McpServerLike {
  connect: (transport: Transport) => Promise<void>
  close: () => Promise<void>
}

/** An MCP `Transport` carried by this package (libp2p stream, or any `connect()` result). */
export interface McpTransport extends Transport {
  /** The authenticated remote peer, for transports over libp2p. */
  readonly remotePeer?: PeerId
}

/** Limits shared by both ends of a libp2p MCP session. */
export interface FrameOptions {
  /**
   * Largest frame (UTF-8 JSON bytes, prefix excluded) sent or accepted. A larger
   * incoming frame ends the session with `FrameTooLargeError`; a larger outgoing
   * message makes `send()` reject with it.
   *
   * @default 4194304 (4 MiB)
   */
  maxFrameBytes?: number
  /**
   * Close the session after this long with no frame either way and no request in
   * flight (`0` disables).
   *
   * @default 0 when dialing, 300000 (5 minutes) when serving
   */
  idleTimeoutMs?: number
  /**
   * Bytes queued for the remote (frames not yet handed to the stream, counted as JSON
   * characters, plus the stream's write buffer) above which the stream is reset with
   * `SendQueueFullError`: a remote that does not read its responses cannot make this
   * process buffer without bound. `0` disables the bound.
   *
   * @default 0 when dialing, 9437184 (2 × the default maxFrameBytes + 1 MiB) when serving
   */
  maxQueuedBytes?: number
}

export interface DialMcpOptions extends FrameOptions {
  /** Aborts the dial and protocol negotiation. */
  signal?: AbortSignal
  /**
   * Concurrent outbound MCP streams per libp2p connection, when this node does not
   * serve the protocol itself (then its `serveMcp` limit applies).
   *
   * @default 320
   */
  maxOutboundStreams?: number
  /** @default no-op */
  logger?: Logger
}

/** One inbound session, as the server factory sees it. */
export interface McpSessionInfo {
  /** The remote peer, authenticated by the connection's encryption (Noise). */
  readonly remotePeer: PeerId
  /** A session id unique on this node: `<peer id>/<stream id>`. */
  readonly sessionId: string
  /** What tool handlers get as `extra.authInfo`: `clientId` is the peer id string. */
  readonly authInfo: AuthInfo
}

/** Builds the MCP server of one session; one server per session (the SDK binds a server to one transport). */
export type McpServerFactory = (session: McpSessionInfo) => McpServerLike | Promise<McpServerLike>

export interface ServeMcpOptions extends FrameOptions {
  /**
   * Decides whether a peer may open a session. Refused peers' streams are reset
   * before any MCP message is read.
   *
   * @default every peer is allowed
   */
  authorize?: (remotePeer: PeerId) => boolean | Promise<boolean>
  /**
   * Concurrent sessions in total. When full, a peer holding fewer sessions than the largest
   * holder takes that holder's longest-quiet idle session (closed with `SessionEvictedError`);
   * otherwise the new session's `initialize` is answered with JSON-RPC error -32029
   * (`LIMIT_REFUSED_CODE`, `data.name` `SessionLimitError`).
   *
   * @default 1024
   */
  maxSessions?: number
  /**
   * When the table is full, a session of another peer that has done no work (no request but
   * `initialize` and `ping`, nothing in flight) and has been quiet this long is closed first
   * (`SessionEvictedError`) to make room.
   *
   * @default 5000
   */
  unusedGraceMs?: number
  /**
   * Concurrent sessions per remote peer; more are refused like `maxSessions` (`SessionLimitError`).
   *
   * @default 256
   */
  maxSessionsPerPeer?: number
  /**
   * Requests from the remote in flight at once on one session; a request past it is answered
   * at once with JSON-RPC error -32029 (`LIMIT_REFUSED_CODE`, `data.name` `InFlightLimitError`)
   * and not run. `0` disables the bound.
   *
   * @default 1024
   */
  maxInFlight?: number
  /**
   * Concurrent inbound MCP streams per libp2p connection (libp2p's registrar limit). Keep it
   * above `maxSessionsPerPeer`: a stream over it is reset by libp2p, which the dialer cannot
   * tell from a failure.
   *
   * @default 320, or `maxSessionsPerPeer` + 64 when that is more
   */
  maxInboundStreams?: number
  /**
   * Concurrent outbound MCP streams per libp2p connection for this node's own dials.
   *
   * @default 320
   */
  maxOutboundStreams?: number
  /**
   * Called with every session-level error: refused peers, limits, bad frames, bad
   * messages, factory failures. The process keeps serving.
   *
   * @default none (errors go to the logger at debug level)
   */
  onerror?: (error: Error, session?: McpSessionInfo) => void
  /** @default no-op */
  logger?: Logger
}

/** Stops serving: unregisters the protocol and closes every open session. Idempotent. */
export interface Unserve {
  (): Promise<void>
  /** Sessions open right now. */
  readonly sessionCount: number
}
