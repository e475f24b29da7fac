/**
 * @packageDocumentation
 *
 * A pool of MCP clients over the replicas of one MCP server. Each call goes to the best
 * replica (Peak-EWMA power of two choices by default; least-request, round-robin,
 * weighted round-robin, ring-hash affinity or a custom picker), survives a replica
 * dying, and never runs a non-idempotent tool twice: active health checks by MCP ping,
 * passive outlier ejection, a circuit breaker per replica, a retry budget with jittered
 * backoff that retries only what is safe, per-call deadlines extended by progress,
 * bulkheads, drain and removal, scoped upstream sessions that forward sampling,
 * elicitation, roots, progress and logging, resource subscriptions that follow a scope
 * across failover, stats and events.
 */
export { ClientPool, createClientPool } from './pool.js'
export type { ClientPoolScope, ClientPoolView } from './call-api.js'
export {
  leastRequestPicker,
  peakEwmaPicker,
  ringHashPicker,
  roundRobinPicker,
  weightedRoundRobinPicker,
} from './pickers.js'
export { PeakEwma } from './peak-ewma.js'
export { RetryBudget } from './retry-budget.js'
export {
  BulkheadFullError,
  CallFailedError,
  ConnectError,
  DuplicateEndpointError,
  InvalidParametersError,
  NoEndpointAvailableError,
  PoolClosedError,
  ReplicaStalledError,
  UnknownEndpointError,
} from './errors.js'
export type { CallFailureReason } from './errors.js'
export { isLimitRefusal, isLocalEncodeError, LIMIT_REFUSED_CODE } from './classify.js'
export type {
  BalancerName,
  BreakerEventDetail,
  BreakerState,
  BulkheadInit,
  CallOptions,
  CircuitBreakerInit,
  ClientPoolEvents,
  ClientPoolInit,
  EjectedEventDetail,
  EndpointEventDetail,
  EndpointLoad,
  EndpointSpec,
  EndpointState,
  EndpointStats,
  HandlerContext,
  HealthCheckInit,
  HedgeInit,
  Logger,
  OutlierDetectionInit,
  PickContext,
  Picker,
  PoolStats,
  ReconnectInit,
  RetryEventDetail,
  RestoredEventDetail,
  RetryInit,
  ScopeHandlers,
  ScopeInit,
  SessionEventDetail,
  StallDetectionInit,
  StalledEventDetail,
  SubscribeOptions,
  SubscriptionsFailedEventDetail,
  SubscriptionsMovedEventDetail,
} from './types.js'
