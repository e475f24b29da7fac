/** The gossipsub topic events travel on. */
export const EVENTS_TOPIC = 'p2p-mcp/events/1'
/** Major version of the event format; a breaking change gets a new topic. */
export const EVENT_FORMAT_VERSION = 1
/** Largest encoded event (the signed payload), in bytes. */
export const DEFAULT_MAX_EVENT_BYTES = 64 * 1024
/** Largest gossip message / clock block: an event plus its parents. */
export const DEFAULT_MAX_BLOCK_BYTES = DEFAULT_MAX_EVENT_BYTES + 16 * 1024
/** Most entries in an event's causality vector. */
export const MAX_CAUSALITY_ENTRIES = 1024
/** Longest event type (topic), in characters, and most segments. */
export const MAX_TOPIC_LENGTH = 200
export const MAX_TOPIC_SEGMENTS = 16
/** Number of topic partitions (one Merkle-clock DAG each). */
export const DEFAULT_PARTITIONS = 4
/** How often a peer reconciles each partition's DAG with one subscribed peer. */
export const DEFAULT_ANTI_ENTROPY_INTERVAL_MS = 5_000
/** Gossip messages whose merge is pending at once; more are ignored (anti-entropy repairs them). */
export const DEFAULT_MAX_PENDING_MERGES = 1024
/** How long a merge waits for a missing parent that may be in gossip validation before fetching it. */
export const GOSSIP_GAP_WAIT_MS = 100
/** Durable log: retention and segment size. */
export const DEFAULT_RETENTION_MS = 7 * 24 * 3600 * 1000
export const DEFAULT_RETENTION_BYTES = 256 * 1024 * 1024
export const DEFAULT_SEGMENT_BYTES = 8 * 1024 * 1024
/** Events kept by a log without a data directory. */
export const DEFAULT_MEMORY_LOG_EVENTS = 10_000
/** Events buffered per live subscriber before it is cut off (it resumes from the log). */
export const DEFAULT_SUBSCRIBER_BUFFER = 10_000
/** Filter expression: longest text and deepest nesting. */
export const MAX_FILTER_LENGTH = 1024
export const MAX_FILTER_DEPTH = 16
/** `mesh__publish_event`: token bucket per principal. */
export const DEFAULT_PUBLISH_RATE_PER_S = 20
export const DEFAULT_PUBLISH_BURST = 50
/** Webhooks: attempts, backoff (1 s doubling to 300 s), timeout of one POST, queue bound. */
export const DEFAULT_WEBHOOK_ATTEMPTS = 5
export const DEFAULT_WEBHOOK_RETRY_BASE_MS = 1_000
export const DEFAULT_WEBHOOK_RETRY_MAX_MS = 300_000
export const DEFAULT_WEBHOOK_TIMEOUT_MS = 10_000
export const DEFAULT_WEBHOOK_QUEUE = 10_000
/** Call events: one summary per interval instead of one event per call. */
export const DEFAULT_CALL_SUMMARY_INTERVAL_MS = 10_000
/** Most events `mesh__query_events` returns. */
export const MAX_QUERY_LIMIT = 1000
/** SSE keep-alive comment interval. */
export const SSE_KEEPALIVE_MS = 15_000
