/** Protocol of the control plane for peers that are not Raft members (and for joining). */
export const CONTROL_PROTOCOL = '/p2p-mcp/control/1.0.0'
/** Envelope version written by this release. */
export const ENVELOPE_VERSION = 1
/** Module name of leader ticks in the log. */
export const TICK_MODULE = '$tick'
/** Largest log entry (envelope) accepted, bytes. */
export const MAX_ENVELOPE_BYTES = 1024 * 1024
/** Longest request id. */
export const MAX_REQUEST_ID_LENGTH = 128
/** How long (log time) an applied request id is remembered for exactly-once retries. */
export const DEFAULT_DEDUP_WINDOW_MS = 10 * 60_000
/** How many applied request ids are remembered at most (the oldest are forgotten first). */
export const DEFAULT_MAX_DEDUP_ENTRIES = 20_000
/** The leader proposes a tick this often. */
export const DEFAULT_TICK_INTERVAL_MS = 1_000
/** Largest control-protocol frame. */
export const MAX_CONTROL_FRAME_BYTES = 1024 * 1024 + 4096
/** Autopilot defaults. */
export const DEFAULT_MAX_VOTERS = 5
export const DEFAULT_MAX_LEARNERS = 4
export const DEFAULT_STABILIZATION_MS = 10_000
export const DEFAULT_DEAD_VOTER_MS = 30_000
/** A member not heard from (no log progress, no connection) for this long is unhealthy. */
export const DEFAULT_HEALTHY_CONTACT_MS = 3_000
/** A learner more than this many entries behind the leader is not caught up. */
export const DEFAULT_MAX_LAG_ENTRIES = 100
/** How often the leader runs the autopilot. */
export const DEFAULT_AUTOPILOT_INTERVAL_MS = 500
/** Raft timing of the control plane. */
export const DEFAULT_RAFT_TICK_MS = 100
export const DEFAULT_ELECTION_TICKS = 10
/** Timeout of one control request (join, forward, read). */
export const DEFAULT_CONTROL_TIMEOUT_MS = 5_000
/** Concurrent inbound control streams per connection. */
export const MAX_CONTROL_STREAMS = 64
/** Folder of the control plane inside the peer's data directory. */
export const CONTROL_DIR = 'control'
