import type { Logger } from './logger.js'
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js'
import type {
  ClientCapabilities,
  CreateMessageRequest,
  CreateMessageResult,
  ElicitRequest,
  ElicitResult,
  Implementation,
  ListRootsResult,
  Progress,
  ServerNotification,
  ToolAnnotations,
} from '@modelcontextprotocol/sdk/types.js'
import type { IBackoffFactory, IBreaker, IRetryBackoffContext } from 'cockatiel'

export type { Logger } from './logger.js'

/** One replica of an MCP server. */
export interface EndpointSpec {
  /** Unique within the pool: a peer id, a URL, a name. */
  id: string
  /**
   * Opens a new MCP transport to this replica; the pool calls it once per upstream session
   * (each scope that uses the endpoint has its own session) and again after a session drops.
   * Over libp2p, each call opens one stream over the shared connection.
   */
  connect: (options: { signal: AbortSignal }) => Transport | Promise<Transport>
  /**
   * Relative capacity, used by 'weighted-round-robin', 'least-request' and 'ring-hash'.
   *
   * @default 1
   */
  weight?: number
  /** Matched exactly by a call's `require` option (for example `{ gpu: 'a100' }`). @default {} */
  labels?: Readonly<Record<string, string>>
}

/** What a picker sees of an endpoint. Read-only; the pool updates it in place. */
export interface EndpointLoad {
  readonly id: string
  readonly weight: number
  readonly labels: Readonly<Record<string, string>>
  /** Calls in flight or queued in the endpoint's bulkhead. */
  readonly inFlight: number
  /** Peak-EWMA latency in milliseconds, decayed to now; 0 before the first response. */
  latencyMs: () => number
}

/** What a picker is told about the call it places. */
export interface PickContext {
  /** The call's affinity key (`key` option), if any. */
  readonly key: string | undefined
  /** Uniform in [0, 1); the pool's `random` option. */
  readonly random: () => number
}

/**
 * Chooses one endpoint among the eligible candidates (healthy, not ejected, breaker not
 * open, not draining, labels matching). Must not keep the `candidates` array: the pool
 * reuses it.
 */
export interface Picker {
  pick: (candidates: readonly EndpointLoad[], context: PickContext) => EndpointLoad | undefined
  /** Told the full endpoint list whenever it changes (add, remove). */
  update?: (endpoints: readonly EndpointLoad[]) => void
}

export type BalancerName = 'peak-ewma' | 'least-request' | 'round-robin' | 'weighted-round-robin' | 'ring-hash'

export interface HealthCheckInit {
  /** Time between two probes of one endpoint (±10% jitter). @default 10000 */
  intervalMs?: number
  /** A probe that has not answered after this long failed. @default 5000 */
  timeoutMs?: number
  /** Consecutive successful probes that make an unhealthy endpoint healthy. @default 2 */
  healthyThreshold?: number
  /** Consecutive failed probes that make a healthy endpoint unhealthy. @default 3 */
  unhealthyThreshold?: number
  /**
   * The probe. Resolves when the endpoint is fit to serve; rejects otherwise. The default
   * sends an MCP `ping`. A stricter probe can check that tools are actually served.
   *
   * @default (client, { signal, timeoutMs }) => client.ping({ signal, timeout: timeoutMs })
   */
  probe?: (client: import('@modelcontextprotocol/sdk/client/index.js').Client, options: { signal: AbortSignal, timeoutMs: number }) => Promise<unknown>
}

export interface OutlierDetectionInit {
  /** Consecutive replica failures (connection lost, timeout, server error) that eject an endpoint. @default 5 */
  consecutiveFailures?: number
  /** First ejection length; the n-th ejection in a row lasts n times as long. @default 30000 */
  baseEjectionMs?: number
  /** Longest ejection. @default 300000 */
  maxEjectionMs?: number
  /**
   * An ejected replica that passes a health check after a failed one, or on a session opened
   * anew (it restarted or came back), returns to rotation at once instead of at the end of
   * its ejection (Envoy's `successful_active_health_check_uneject_host`); a replica that
   * answers pings while failing calls serves out its ejection. See docs/decisions/0150.
   *
   * @default true
   */
  unejectOnHealthCheck?: boolean
  /** At most this share of the endpoints is ejected at once (at least one can always be). @default 50 */
  maxEjectedPercent?: number
}

export interface StallDetectionInit {
  /**
   * A replica is stalled (frozen, descheduled, partitioned) once a health probe has gone
   * unanswered this long and nothing else came back from it meanwhile. A call in flight on
   * it for half this long with nothing heard from the replica for as long starts that probe
   * at once. A stalled replica takes no new calls; if another replica can take them, its
   * calls in flight are abandoned (the server is sent `notifications/cancelled`; with no
   * other replica they wait, as it may resume): safe ones are retried elsewhere at once
   * (within the retry budget), the others fail with `CallFailedError` reason
   * `'outcome-unknown'` (never sent twice). Needs health checks. See docs/decisions/0151.
   *
   * @default 2000
   */
  afterMs?: number
  /**
   * Also abandon calls that are not safe to run twice (they fail fast with an unknown
   * outcome). `false` lets them wait for their own timeout, as the replica may resume.
   *
   * @default true
   */
  abandonUnsafe?: boolean
}

export interface HedgeInit {
  /**
   * A call safe to run twice that has not been answered after this long is sent to a second
   * replica too; the first answer wins and the other request is cancelled. Each hedge is a
   * retry for the retry budget, so hedges stay within `retry.budgetPercent` of the calls.
   * See docs/decisions/0152.
   */
  delayMs: number
}

export interface CircuitBreakerInit {
  /**
   * Makes the per-endpoint breaker strategy (a cockatiel `IBreaker`; one per endpoint,
   * since it holds state).
   *
   * @default () => new CountBreaker({ threshold: 0.5, size: 20, minimumNumberOfCalls: 10 })
   */
  breaker?: () => IBreaker
  /** Time an open breaker waits before letting one probe call through (half-open). @default 10000 */
  halfOpenAfterMs?: number
}

export interface RetryInit {
  /** Attempts per call, the first one included. @default 3 */
  maxAttempts?: number
  /**
   * Delay before a retry: decorrelated exponential jitter, or none, or any cockatiel
   * backoff factory.
   *
   * @default 'exponential-jitter'
   */
  backoff?: 'exponential-jitter' | 'none' | IBackoffFactory<IRetryBackoffContext<unknown>>
  /** First delay of 'exponential-jitter'. @default 25 */
  initialDelayMs?: number
  /** Longest delay of 'exponential-jitter'. @default 1000 */
  maxDelayMs?: number
  /** Retries may add at most this percentage of the calls made in the last `budgetWindowMs`. @default 20 */
  budgetPercent?: number
  /** Retries always allowed per second on top of `budgetPercent`, so that a quiet pool can still retry. @default 10 */
  minRetriesPerSecond?: number
  /** Window of the retry budget. @default 10000 */
  budgetWindowMs?: number
  /**
   * Which `tools/call` requests may run twice: 'annotations' trusts the tool's
   * `readOnlyHint` / `idempotentHint`; 'never' retries a call only when it provably never
   * left. A call's own `idempotent` option wins over both.
   *
   * @default 'annotations'
   */
  idempotency?: 'annotations' | 'never'
}

export interface BulkheadInit {
  /** Calls running at once on one endpoint. @default 64 */
  maxConcurrentPerEndpoint?: number
  /** Calls waiting for a slot on one endpoint; beyond that the call goes elsewhere or fails. @default 256 */
  maxQueue?: number
}

export interface ReconnectInit {
  /** Delay before the first reconnection of a dropped session. @default 100 */
  initialDelayMs?: number
  /** Longest delay between reconnection attempts. @default 30000 */
  maxDelayMs?: number
  /** Opening a session (transport plus `initialize`) fails after this long. @default 10000 */
  connectTimeoutMs?: number
}

/** Server-to-client traffic of a scope's upstream sessions. */
export interface ScopeHandlers {
  /** `sampling/createMessage` (declare `capabilities.sampling`). */
  sampling?: (params: CreateMessageRequest['params'], context: HandlerContext) => Promise<CreateMessageResult>
  /** `elicitation/create` (declare `capabilities.elicitation`). */
  elicitation?: (params: ElicitRequest['params'], context: HandlerContext) => Promise<ElicitResult>
  /** `roots/list` (declare `capabilities.roots`). */
  roots?: (context: HandlerContext) => Promise<ListRootsResult>
  /** Progress of a call made through this scope that has no `onProgress` of its own. */
  progress?: (progress: Progress, context: HandlerContext) => void
  /** Every other notification: logging messages, list changes, resource updates. */
  notification?: (notification: ServerNotification, context: HandlerContext) => void | Promise<void>
}

export interface HandlerContext {
  /** The endpoint whose server sent the request or notification. */
  readonly endpointId: string
  /** Aborted when the server cancels its request or the session closes. */
  readonly signal: AbortSignal
}

export interface ScopeInit {
  /** Client capabilities declared by this scope's upstream sessions. @default {} */
  capabilities?: ClientCapabilities
  handlers?: ScopeHandlers
  /**
   * Send every call of the scope to the same endpoint while it is eligible (stateful
   * servers), and move only when it is not.
   *
   * @default true
   */
  sticky?: boolean
  /**
   * A sticky scope moves once when a replica (re)joins rotation — added, un-ejected,
   * healthy again, resumed — if it is safe to: no call of the scope in flight and no
   * resource subscription (per-replica state). The balancer picks again, so the returning
   * replica gets its share of sessions (docs/decisions/0150). `false` keeps the scope on its
   * replica until that replica leaves rotation.
   *
   * @default true
   */
  rebalance?: boolean
  /**
   * Default of the calls' `extendTimeoutOnProgress` for this scope; overrides the pool's
   * (docs/decisions/0039).
   */
  extendTimeoutOnProgress?: boolean
}

export interface ClientPoolInit {
  /** The replicas. More can be added with `pool.add()`. @default [] */
  endpoints?: EndpointSpec[]
  /** A built-in balancer by name, or a custom picker. @default 'peak-ewma' */
  balancer?: BalancerName | Picker
  /** Active health checks by MCP ping; `false` turns them off. @default {} (all defaults) */
  healthCheck?: HealthCheckInit | false
  /** Passive outlier ejection; `false` turns it off. @default {} */
  outlierDetection?: OutlierDetectionInit | false
  /** Detection of stalled replicas and early failover of their calls; `false` turns it off. @default {} */
  stallDetection?: StallDetectionInit | false
  /** Hedged requests for calls safe to run twice; off unless given. @default false */
  hedge?: HedgeInit | false
  /** One circuit breaker per endpoint; `false` turns them off. @default {} */
  circuitBreaker?: CircuitBreakerInit | false
  /** Retries with a budget; `false` never retries. @default {} */
  retry?: RetryInit | false
  /** Per-attempt timeout of a request, reset by each progress notification. @default 60000 */
  requestTimeoutMs?: number
  /** Per-tool timeouts (tool name → ms), overriding `requestTimeoutMs`. @default {} */
  toolTimeoutsMs?: Readonly<Record<string, number>>
  /**
   * Ask for progress on every call, even one nobody listens to, so that the far side's
   * progress notifications extend its timeout (docs/decisions/0039). Off by default: a
   * progress token costs a few µs per call (docs/decisions/0032), and calls with
   * `onProgress` or a scope `handlers.progress` are extended anyway. A scope's or a call's
   * own `extendTimeoutOnProgress` wins.
   *
   * @default false
   */
  extendTimeoutOnProgress?: boolean
  /** Per-endpoint concurrency limit and queue; `false` for none. @default {} */
  bulkhead?: BulkheadInit | false
  /** Reconnection backoff of dropped sessions. @default {} */
  reconnect?: ReconnectInit
  /** Sent in `initialize` by every upstream session. @default { name: '@p2p-mcp/client-pool', version: '0.1.0' } */
  clientInfo?: Implementation
  /**
   * Tool annotations known in advance (tool name → annotations). Tools not listed here
   * are looked up with `tools/list` on the first session the pool opens.
   *
   * @default {}
   */
  toolAnnotations?: Readonly<Record<string, ToolAnnotations>>
  /**
   * Decay time of the peak-EWMA latency estimate: how long a slow answer keeps counting.
   * Shorter forgets latency spikes sooner and retries a shunned replica sooner.
   *
   * @default 10000
   */
  ewmaDecayMs?: number
  /**
   * Least weight of a latency sample below the estimate, however soon after the previous
   * one: a latency spike (a GC pause, a busy core) is forgotten after a few dozen faster
   * answers rather than after `ewmaDecayMs`. 0 gives Finagle's time-only decay.
   *
   * @default 0.1
   */
  ewmaMinSampleWeight?: number
  /**
   * Period of an unref'd timer that detects stalls of this process's event loop; the
   * stalled time is taken out of latency samples, so that a GC pause or a busy core is not
   * blamed on the replicas that had calls in flight. 0 turns it off.
   *
   * @default 10
   */
  stallCheckIntervalMs?: number
  /** Uniform random numbers in [0, 1), for pickers and jitter; pass a seeded one to replay a run. @default Math.random */
  random?: () => number
  /** @default a no-op logger */
  logger?: Logger
}

/** Options of one call. */
export interface CallOptions {
  /** Aborting cancels the call; the server receives `notifications/cancelled`. */
  signal?: AbortSignal
  /** Affinity key for 'ring-hash' (a project, a user, a document). */
  key?: string
  /** Only endpoints whose labels contain all of these. */
  require?: Readonly<Record<string, string>>
  /** Send to this endpoint only (it must be eligible). */
  endpoint?: string
  /** Per-attempt timeout, reset by progress; overrides per-tool and pool timeouts. */
  timeoutMs?: number
  /** Deadline of an attempt that progress does not extend. @default none */
  maxTotalTimeoutMs?: number
  /** Whether the call may run twice; overrides the tool's annotations. */
  idempotent?: boolean
  /** Progress notifications of this call; asking for them also lets them extend the timeout. */
  onProgress?: (progress: Progress) => void
  /**
   * Whether the far side's progress notifications extend this call's timeout (never past
   * `maxTotalTimeoutMs`). `true` asks for progress even without `onProgress`, so a caller
   * that does not handle progress still gets the longer deadline; `false` keeps the
   * deadline fixed even with `onProgress`.
   *
   * @default true when the call has a progress listener (`onProgress` or the scope's
   * `handlers.progress`), else the scope's, else the pool's `extendTimeoutOnProgress`
   */
  extendTimeoutOnProgress?: boolean
  /**
   * Told the endpoint of each attempt as it is placed: the last one named is the endpoint
   * that answered or failed. For a scope that does not stick (`sticky: false`), where
   * `scope.endpoint` does not say which replica took a call.
   */
  onAttempt?: (endpointId: string) => void
}

/** Options of `subscribeResource` / `unsubscribeResource`. */
export interface SubscribeOptions {
  /** Aborts the request (the subscription set is left as it was). */
  signal?: AbortSignal
  /** Timeout of the request. @default the pool's `requestTimeoutMs` */
  timeoutMs?: number
}

export type EndpointState = 'healthy' | 'unhealthy' | 'ejected' | 'stalled' | 'draining'
export type BreakerState = 'closed' | 'open' | 'half-open' | 'disabled'

export interface EndpointStats {
  id: string
  state: EndpointState
  breaker: BreakerState
  weight: number
  labels: Readonly<Record<string, string>>
  inFlight: number
  /** Peak-EWMA latency decayed to now, in ms. */
  ewmaLatencyMs: number
  /** Exponentially weighted share of recent attempts that did not fail on the replica's side. */
  successRate: number
  requests: number
  failures: number
  ejections: number
  /** Upstream sessions open to this endpoint, over all scopes. */
  sessions: number
}

export interface PoolStats {
  endpoints: EndpointStats[]
  calls: number
  retries: number
  /** Retries refused because the retry budget was spent. */
  budgetExhausted: number
  /** Sticky scopes that moved when a replica returned to rotation. */
  rebalanced: number
  /** Attempts abandoned on stalled replicas. */
  abandoned: number
  /** Hedges sent (second copies of slow safe calls). */
  hedges: number
  inFlight: number
}

export interface EndpointEventDetail { id: string }
export interface EjectedEventDetail { id: string, durationMs: number, ejections: number }
export interface RestoredEventDetail {
  id: string
  /** 'ejection-ended': the ejection ran out; 'health-check': the replica passed a health check after being down. */
  reason: 'ejection-ended' | 'health-check'
}
export interface StalledEventDetail {
  id: string
  /** How long nothing had come back from the replica. */
  silentMs: number
  /** Calls in flight on it when it was found stalled. */
  inFlight: number
}
export interface BreakerEventDetail { id: string, state: 'open' | 'half-open' | 'closed' }
export interface RetryEventDetail { id: string, attempt: number, delayMs: number, method: string, error: unknown }
export interface SessionEventDetail { id: string, error?: unknown }
export interface SubscriptionsMovedEventDetail {
  /** The endpoint that held the scope's subscriptions, if any was still known. */
  from: string | undefined
  /** The endpoint that holds them now. */
  to: string
  /** The subscribed URIs that were moved (and told `notifications/resources/updated`). */
  uris: string[]
  reason: 'session-lost' | 'draining' | 'moved'
}
export interface SubscriptionsFailedEventDetail {
  /** The endpoint that held the scope's subscriptions, if any. */
  from: string | undefined
  uris: string[]
  error: unknown
  /** The next attempt, in ms. */
  retryInMs: number
}

/** Events of a pool: `pool.addEventListener(name, (e) => e.detail)`. */
export interface ClientPoolEvents {
  'endpoint:added': CustomEvent<EndpointEventDetail>
  'endpoint:removed': CustomEvent<EndpointEventDetail>
  'endpoint:draining': CustomEvent<EndpointEventDetail>
  'endpoint:healthy': CustomEvent<EndpointEventDetail>
  'endpoint:unhealthy': CustomEvent<EndpointEventDetail>
  'endpoint:ejected': CustomEvent<EjectedEventDetail>
  'endpoint:restored': CustomEvent<RestoredEventDetail>
  'endpoint:stalled': CustomEvent<StalledEventDetail>
  breaker: CustomEvent<BreakerEventDetail>
  retry: CustomEvent<RetryEventDetail>
  'session:open': CustomEvent<SessionEventDetail>
  'session:closed': CustomEvent<SessionEventDetail>
  'subscriptions:moved': CustomEvent<SubscriptionsMovedEventDetail>
  'subscriptions:failed': CustomEvent<SubscriptionsFailedEventDetail>
}

export type { Transport }

/** Dispatches a pool event (internal: the pool's parts report through it). */
export type Emit = <K extends keyof ClientPoolEvents>(type: K, detail: ClientPoolEvents[K]['detail']) => void
