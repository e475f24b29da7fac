import type { Client } from '@modelcontextprotocol/sdk/client/index.js'
import type { Implementation, ToolAnnotations } from '@modelcontextprotocol/sdk/types.js'
import { ConstantBackoff, CountBreaker, ExponentialBackoff } from 'cockatiel'
import type { IBackoffFactory, IRetryBackoffContext } from 'cockatiel'
import * as C from './constants.js'
import type { EndpointPolicies } from './endpoint.js'
import { InvalidParametersError } from './errors.js'
import { BALANCER_NAMES, createPicker } from './pickers.js'
import { RetryBudget } from './retry-budget.js'
import type { SessionHost } from './session.js'
import { noopLogger } from './logger.js'
import type { ClientPoolInit, HealthCheckInit, Logger, Picker } from './types.js'

export interface HealthSettings { intervalMs: number, timeoutMs: number, healthyThreshold: number, unhealthyThreshold: number, probe: NonNullable<HealthCheckInit['probe']> }
export interface OutlierSettings { consecutiveFailures: number, baseEjectionMs: number, maxEjectionMs: number, maxEjectedPercent: number, unejectOnHealthCheck: boolean }
export interface StallSettings { afterMs: number, abandonUnsafe: boolean }
export interface RetrySettings {
  maxAttempts: number
  idempotency: 'annotations' | 'never'
  budget: RetryBudget | undefined
  /** undefined: retries are off. */
  backoff: IBackoffFactory<IRetryBackoffContext<unknown>> | undefined
}

/** `ClientPoolInit` validated and merged with the defaults, once, at construction. */
export interface PoolOptions {
  logger: Logger
  random: () => number
  picker: Picker
  health: HealthSettings | undefined
  outlier: OutlierSettings | undefined
  stall: StallSettings | undefined
  hedgeDelayMs: number | undefined
  policies: EndpointPolicies
  retry: RetrySettings
  requestTimeoutMs: number
  toolTimeoutsMs: Readonly<Record<string, number>>
  extendTimeoutOnProgress: boolean
  clientInfo: Implementation
  reconnect: SessionHost['reconnect']
  stallCheckIntervalMs: number
  toolAnnotations: Readonly<Record<string, ToolAnnotations>>
}

const defaultProbe = async (client: Client, { signal, timeoutMs }: { signal: AbortSignal, timeoutMs: number }): Promise<unknown> =>
  await client.ping({ signal, timeout: timeoutMs })

/** A number option: the fallback when absent, else a (whole) number > 0 (or >= 0), else `InvalidParametersError`. */
export function positive (option: string, value: unknown, fallback: number, integer = false, allowZero = false): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0 || (!allowZero && value === 0) || (integer && !Number.isInteger(value))) {
    throw new InvalidParametersError(option, value, `a ${integer ? 'whole ' : ''}number ${allowZero ? '>= 0' : '> 0'}`)
  }
  return value
}

/** A boolean option, or `InvalidParametersError`. */
export function flag (option: string, value: unknown): boolean | undefined {
  if (value !== undefined && typeof value !== 'boolean') throw new InvalidParametersError(option, value, 'true or false')
  return value
}

function pickerOf (balancer: ClientPoolInit['balancer']): Picker {
  const b = balancer ?? 'peak-ewma'
  if (typeof b === 'string') {
    if (!BALANCER_NAMES.includes(b)) throw new InvalidParametersError('balancer', b, `one of ${BALANCER_NAMES.join(', ')}, or a picker { pick(candidates, context) }`)
    return createPicker(b)
  }
  if (typeof b === 'object' && b !== null && typeof b.pick === 'function') return b
  throw new InvalidParametersError('balancer', b, `one of ${BALANCER_NAMES.join(', ')}, or a picker { pick(candidates, context) }`)
}

function healthOf (hc: ClientPoolInit['healthCheck'] = {}): HealthSettings | undefined {
  if (hc === false) return undefined
  return {
    intervalMs: positive('healthCheck.intervalMs', hc.intervalMs, C.DEFAULT_HEALTH_CHECK_INTERVAL_MS),
    timeoutMs: positive('healthCheck.timeoutMs', hc.timeoutMs, C.DEFAULT_HEALTH_CHECK_TIMEOUT_MS),
    healthyThreshold: positive('healthCheck.healthyThreshold', hc.healthyThreshold, C.DEFAULT_HEALTHY_THRESHOLD, true),
    unhealthyThreshold: positive('healthCheck.unhealthyThreshold', hc.unhealthyThreshold, C.DEFAULT_UNHEALTHY_THRESHOLD, true),
    probe: hc.probe ?? defaultProbe,
  }
}

function outlierOf (od: ClientPoolInit['outlierDetection'] = {}): OutlierSettings | undefined {
  if (od === false) return undefined
  const out = {
    consecutiveFailures: positive('outlierDetection.consecutiveFailures', od.consecutiveFailures, C.DEFAULT_CONSECUTIVE_FAILURES, true),
    baseEjectionMs: positive('outlierDetection.baseEjectionMs', od.baseEjectionMs, C.DEFAULT_BASE_EJECTION_MS),
    maxEjectionMs: positive('outlierDetection.maxEjectionMs', od.maxEjectionMs, C.DEFAULT_MAX_EJECTION_MS),
    maxEjectedPercent: positive('outlierDetection.maxEjectedPercent', od.maxEjectedPercent, C.DEFAULT_MAX_EJECTED_PERCENT, false, true),
    unejectOnHealthCheck: flag('outlierDetection.unejectOnHealthCheck', od.unejectOnHealthCheck) ?? true,
  }
  if (out.maxEjectedPercent > 100) throw new InvalidParametersError('outlierDetection.maxEjectedPercent', out.maxEjectedPercent, 'a percentage from 0 to 100')
  return out
}

function stallOf (sd: ClientPoolInit['stallDetection'] = {}, health: HealthSettings | undefined): StallSettings | undefined {
  if (sd === false) return undefined
  if (typeof sd !== 'object' || sd === null) throw new InvalidParametersError('stallDetection', sd, 'an object { afterMs, abandonUnsafe } or false')
  const out = {
    afterMs: positive('stallDetection.afterMs', sd.afterMs, C.DEFAULT_STALL_AFTER_MS),
    abandonUnsafe: flag('stallDetection.abandonUnsafe', sd.abandonUnsafe) ?? true,
  }
  // Stalls are told by unanswered health probes: without health checks there is nothing to go on.
  return health === undefined ? undefined : out
}

function policiesOf (cb: ClientPoolInit['circuitBreaker'] = {}, bh: ClientPoolInit['bulkhead'] = {}, init: ClientPoolInit): EndpointPolicies {
  return {
    breaker: cb === false
      ? undefined
      : {
          make: cb.breaker ?? (() => new CountBreaker({ threshold: C.DEFAULT_BREAKER_THRESHOLD, size: C.DEFAULT_BREAKER_SIZE, minimumNumberOfCalls: C.DEFAULT_BREAKER_MINIMUM_CALLS })),
          halfOpenAfterMs: positive('circuitBreaker.halfOpenAfterMs', cb.halfOpenAfterMs, C.DEFAULT_HALF_OPEN_AFTER_MS),
        },
    bulkhead: bh === false
      ? undefined
      : {
          maxConcurrent: positive('bulkhead.maxConcurrentPerEndpoint', bh.maxConcurrentPerEndpoint, C.DEFAULT_MAX_CONCURRENT_PER_ENDPOINT, true),
          maxQueue: positive('bulkhead.maxQueue', bh.maxQueue, C.DEFAULT_MAX_QUEUE, true, true),
        },
    ewmaDecayMs: positive('ewmaDecayMs', init.ewmaDecayMs, C.DEFAULT_EWMA_DECAY_MS),
    ewmaMinSampleWeight: positive('ewmaMinSampleWeight', init.ewmaMinSampleWeight, C.DEFAULT_EWMA_MIN_SAMPLE_WEIGHT, false, true),
    now: () => performance.now(),
  }
}

function retryOf (rt: ClientPoolInit['retry'] = {}): RetrySettings {
  if (rt === false) return { maxAttempts: 1, idempotency: 'never', budget: undefined, backoff: undefined }
  const maxAttempts = positive('retry.maxAttempts', rt.maxAttempts, C.DEFAULT_MAX_ATTEMPTS, true)
  const idempotency = rt.idempotency ?? 'annotations'
  if (idempotency !== 'annotations' && idempotency !== 'never') {
    throw new InvalidParametersError('retry.idempotency', idempotency, "'annotations' or 'never'")
  }
  const percent = positive('retry.budgetPercent', rt.budgetPercent, C.DEFAULT_BUDGET_PERCENT, false, true)
  const minPerSecond = positive('retry.minRetriesPerSecond', rt.minRetriesPerSecond, C.DEFAULT_MIN_RETRIES_PER_SECOND, false, true)
  const windowMs = positive('retry.budgetWindowMs', rt.budgetWindowMs, C.DEFAULT_BUDGET_WINDOW_MS)
  const budget = new RetryBudget(percent, minPerSecond, windowMs, () => performance.now())
  const backoff = rt.backoff ?? 'exponential-jitter'
  const factory = backoff === 'none'
    ? new ConstantBackoff(0)
    : backoff === 'exponential-jitter'
      ? new ExponentialBackoff({
        initialDelay: positive('retry.initialDelayMs', rt.initialDelayMs, C.DEFAULT_RETRY_INITIAL_DELAY_MS),
        maxDelay: positive('retry.maxDelayMs', rt.maxDelayMs, C.DEFAULT_RETRY_MAX_DELAY_MS),
      })
      : backoff
  if (typeof factory !== 'object' || factory === null || typeof factory.next !== 'function') {
    throw new InvalidParametersError('retry.backoff', backoff, "'exponential-jitter', 'none' or a cockatiel backoff factory")
  }
  return { maxAttempts, idempotency, budget, backoff: factory }
}

/** Validates `init` (an `InvalidParametersError` names the first bad option) and merges the defaults. */
export function resolveOptions (init: ClientPoolInit): PoolOptions {
  if (typeof init !== 'object' || init === null) throw new InvalidParametersError('init', init, 'an options object')
  const picker = pickerOf(init.balancer)
  const health = healthOf(init.healthCheck)
  const outlier = outlierOf(init.outlierDetection)
  const stall = stallOf(init.stallDetection, health)
  const hedge = init.hedge ?? false
  if (hedge !== false && (typeof hedge !== 'object' || hedge === null)) throw new InvalidParametersError('hedge', hedge, 'an object { delayMs } or false')
  const hedgeDelayMs = hedge === false ? undefined : positive('hedge.delayMs', hedge.delayMs, NaN)
  if (Number.isNaN(hedgeDelayMs)) throw new InvalidParametersError('hedge.delayMs', undefined, 'a number > 0')
  const policies = policiesOf(init.circuitBreaker, init.bulkhead, init)
  const retry = retryOf(init.retry)
  const requestTimeoutMs = positive('requestTimeoutMs', init.requestTimeoutMs, C.DEFAULT_REQUEST_TIMEOUT_MS)
  const toolTimeoutsMs = init.toolTimeoutsMs ?? {}
  for (const [tool, ms] of Object.entries(toolTimeoutsMs)) positive(`toolTimeoutsMs.${tool}`, ms, 1)
  const extendTimeoutOnProgress = flag('extendTimeoutOnProgress', init.extendTimeoutOnProgress) ?? false
  const rc = init.reconnect ?? {}
  const reconnect = {
    initialDelayMs: positive('reconnect.initialDelayMs', rc.initialDelayMs, C.DEFAULT_RECONNECT_INITIAL_DELAY_MS),
    maxDelayMs: positive('reconnect.maxDelayMs', rc.maxDelayMs, C.DEFAULT_RECONNECT_MAX_DELAY_MS),
    connectTimeoutMs: positive('reconnect.connectTimeoutMs', rc.connectTimeoutMs, C.DEFAULT_CONNECT_TIMEOUT_MS),
  }
  return {
    logger: init.logger?.child?.({ component: 'client-pool' }) ?? init.logger ?? noopLogger,
    random: init.random ?? Math.random,
    picker,
    health,
    outlier,
    stall,
    hedgeDelayMs,
    policies,
    retry,
    requestTimeoutMs,
    toolTimeoutsMs,
    extendTimeoutOnProgress,
    clientInfo: init.clientInfo ?? { ...C.DEFAULT_CLIENT_INFO },
    reconnect,
    stallCheckIntervalMs: positive('stallCheckIntervalMs', init.stallCheckIntervalMs, C.DEFAULT_STALL_CHECK_INTERVAL_MS, false, true),
    toolAnnotations: init.toolAnnotations ?? {},
  }
}
