export const DEFAULT_ELECTION_TICKS = 10
export const DEFAULT_HEARTBEAT_TICKS = 1
export const DEFAULT_MAX_SIZE_PER_MSG_BYTES = 65_536
export const DEFAULT_MAX_INFLIGHT_MSGS = 256
export const DEFAULT_TICK_MS = 100
export const DEFAULT_PROPOSAL_TIMEOUT_MS = 5_000
export const DEFAULT_SNAPSHOT_THRESHOLD_ENTRIES = 10_000
/** Ceiling on one proposal's payload; a bigger one is refused with a typed error. */
export const DEFAULT_MAX_PROPOSAL_BYTES = 1_048_576
