/** The libp2p protocol id of an MCP session: one session per stream. */
export const MCP_PROTOCOL = '/p2p-mcp/mcp/1.0.0'

/** Largest frame (JSON bytes, without the length prefix) sent or accepted by default: 4 MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 4 * 1024 * 1024

/** Largest `maxFrameBytes` that can be configured: the length prefix is at most 5 varint bytes, kept under 2^31. */
export const MAX_FRAME_BYTES_LIMIT = 0x7fff_ffff

/** A session with no frame either way and no request in flight is closed after this long (serving side). */
export const DEFAULT_SERVE_IDLE_TIMEOUT_MS = 5 * 60_000

/** Concurrent sessions served in total. */
export const DEFAULT_MAX_SESSIONS = 1024

/** Concurrent sessions served to one remote peer. */
export const DEFAULT_MAX_SESSIONS_PER_PEER = 128

/** Concurrent inbound MCP streams per libp2p connection (libp2p's own default is 32). */
export const DEFAULT_MAX_INBOUND_STREAMS = 256

/** Concurrent outbound MCP streams per libp2p connection (libp2p's own default is 64). */
export const DEFAULT_MAX_OUTBOUND_STREAMS = 256

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
