export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000

export const DEFAULT_HEALTH_CHECK_INTERVAL_MS = 10_000
export const DEFAULT_HEALTH_CHECK_TIMEOUT_MS = 5_000
export const DEFAULT_HEALTHY_THRESHOLD = 2
export const DEFAULT_UNHEALTHY_THRESHOLD = 3
/** Each interval is stretched or shrunk by up to this share, so that probes of many endpoints spread out. */
export const HEALTH_CHECK_JITTER = 0.1

export const DEFAULT_CONSECUTIVE_FAILURES = 5
export const DEFAULT_BASE_EJECTION_MS = 30_000
export const DEFAULT_MAX_EJECTION_MS = 300_000
export const DEFAULT_MAX_EJECTED_PERCENT = 50

/** A health probe unanswered this long, with nothing else heard from the replica, means it stalled (docs/decisions/0151). */
export const DEFAULT_STALL_AFTER_MS = 2_000
/** The stall detector looks at the endpoints every quarter of `afterMs`, but not more often than this. */
export const STALL_SWEEP_MIN_MS = 50

export const DEFAULT_HALF_OPEN_AFTER_MS = 10_000
export const DEFAULT_BREAKER_THRESHOLD = 0.5
export const DEFAULT_BREAKER_SIZE = 20
export const DEFAULT_BREAKER_MINIMUM_CALLS = 10

export const DEFAULT_MAX_ATTEMPTS = 3
export const DEFAULT_RETRY_INITIAL_DELAY_MS = 25
export const DEFAULT_RETRY_MAX_DELAY_MS = 1_000
export const DEFAULT_BUDGET_PERCENT = 20
export const DEFAULT_MIN_RETRIES_PER_SECOND = 10
export const DEFAULT_BUDGET_WINDOW_MS = 10_000
/** The retry budget counts calls and retries in this many buckets over its window. */
export const BUDGET_BUCKETS = 10

export const DEFAULT_MAX_CONCURRENT_PER_ENDPOINT = 64
export const DEFAULT_MAX_QUEUE = 256

export const DEFAULT_RECONNECT_INITIAL_DELAY_MS = 100
export const DEFAULT_RECONNECT_MAX_DELAY_MS = 30_000
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000

/** Decay time of the peak-EWMA latency (Finagle's default). */
export const DEFAULT_EWMA_DECAY_MS = 10_000
/**
 * Least weight of a latency sample below the estimate (docs/decisions/0031): a spike is
 * forgotten after a few dozen faster answers instead of after DEFAULT_EWMA_DECAY_MS.
 */
export const DEFAULT_EWMA_MIN_SAMPLE_WEIGHT = 0.1
/** Period of the timer that detects stalls of the caller's event loop (docs/decisions/0035). */
export const DEFAULT_STALL_CHECK_INTERVAL_MS = 10

/** Weight of the latest outcome in an endpoint's success rate. */
export const SUCCESS_RATE_ALPHA = 0.05

/** Virtual nodes on the hash ring per unit of weight, so that a ring of few endpoints still spreads keys evenly. */
export const RING_VNODES_PER_WEIGHT = 160

export const DEFAULT_CLIENT_INFO = { name: '@p2p-mcp/client-pool', version: '0.1.0' } as const

/**
 * How long a closing scope waits for each `resources/unsubscribe` before closing its
 * sessions anyway (closing the session ends the subscriptions on the server too).
 */
export const UNSUBSCRIBE_ON_CLOSE_TIMEOUT_MS = 1000
