/** The libp2p protocol id of an MCP session: one session per stream. */
export const MCP_PROTOCOL = '/p2p-mcp/mcp/1.0.0'

/** Largest frame (JSON bytes, without the length prefix) sent or accepted by default: 4 MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 4 * 1024 * 1024

/** Largest `maxFrameBytes` that can be configured: the length prefix is at most 5 varint bytes, kept under 2^31. */
export const MAX_FRAME_BYTES_LIMIT = 0x7fff_ffff

/** A session with no frame either way and no request in flight is closed after this long (serving side). */
export const DEFAULT_SERVE_IDLE_TIMEOUT_MS = 5 * 60_000

/**
 * Concurrent sessions served in total. When the table is full, a peer holding fewer sessions
 * than the largest holder takes the longest-quiet idle session of that holder (decision 0156).
 */
export const DEFAULT_MAX_SESSIONS = 1024

/**
 * Concurrent sessions served to one remote peer. An entry peer shares one route session per
 * replica among its downstream sessions that need no server-to-client requests (decision
 * 0155), so this bounds the sessions that do, per entry peer.
 */
export const DEFAULT_MAX_SESSIONS_PER_PEER = 256

/**
 * When the session table is full, a session that has done no work (no request but
 * `initialize` and `ping`) and has been quiet this long is the first to make room (decision 0156).
 */
export const DEFAULT_UNUSED_GRACE_MS = 5_000

/**
 * Requests from the remote in flight at once on one served session; more are answered at once
 * with JSON-RPC error `LIMIT_REFUSED_CODE` (`InFlightLimitError`), never run (decision 0157).
 */
export const DEFAULT_MAX_IN_FLIGHT_PER_SESSION = 1024

/**
 * Bytes queued for the remote on one stream (frames not yet handed to the stream plus the
 * stream's own write buffer) above which the stream is reset with `SendQueueFullError`: a
 * remote that does not read cannot make this process buffer without bound (decision 0157).
 * Twice the largest frame plus 1 MiB by default, so that one largest response always fits.
 */
export const DEFAULT_MAX_QUEUED_BYTES = 2 * DEFAULT_MAX_FRAME_BYTES + 1024 * 1024

/**
 * JSON-RPC error code of a request or session refused because a limit of the serving peer is
 * reached (a session table, requests in flight): the request was not run, the peer is not
 * failing, and it is safe to send the request elsewhere. `data.name` names the limit's error.
 */
export const LIMIT_REFUSED_CODE = -32029

/** How long a refused session's stream waits for its `initialize` to answer with the refusal, before a reset. */
export const REFUSAL_TIMEOUT_MS = 5_000

/**
 * Concurrent inbound MCP streams per libp2p connection (libp2p's own default is 32); at least
 * `maxSessionsPerPeer` + 64, so that a session over the per-peer limit is refused by
 * `serveMcp` with a typed answer rather than reset by libp2p.
 */
export const DEFAULT_MAX_INBOUND_STREAMS = 320

/**
 * Concurrent outbound MCP streams per libp2p connection (libp2p's own default is 64): above
 * the remote's default `maxSessionsPerPeer`, so that its typed refusal comes first.
 */
export const DEFAULT_MAX_OUTBOUND_STREAMS = 320

/** How long a graceful close waits for queued bytes to leave before resetting the stream. */
export const DEFAULT_CLOSE_TIMEOUT_MS = 5_000

/**
 * Frames queued but not yet handed to the stream above which `send()` waits for the
 * stream to drain, even if the stream has not asked for it yet.
 */
export const SEND_HIGH_WATER_MARK_BYTES = 4 * 1024 * 1024

/**
 * Resource subscriptions remembered per session for the idle check (a session with one is not
 * idle); a remote subscribing to more is still served, its further URIs just not remembered.
 */
export const MAX_TRACKED_SUBSCRIPTIONS = 4096
