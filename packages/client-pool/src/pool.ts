import type { Client } from '@modelcontextprotocol/sdk/client/index.js'
import type { RequestOptions } from '@modelcontextprotocol/sdk/shared/protocol.js'
import type { ClientCapabilities, Implementation, ToolAnnotations } from '@modelcontextprotocol/sdk/types.js'
import { ConstantBackoff, CountBreaker, ExponentialBackoff } from 'cockatiel'
import type { IBackoff, IBackoffFactory, IDisposable, IRetryBackoffContext } from 'cockatiel'
import { classify } from './classify.js'
import type { FailureKind } from './classify.js'
import * as C from './constants.js'
import { Endpoint } from './endpoint.js'
import type { EndpointPolicies } from './endpoint.js'
import {
  CallFailedError,
  DuplicateEndpointError,
  InvalidOptionsError,
  NoEndpointAvailableError,
  PoolClosedError,
  UnknownEndpointError,
} from './errors.js'
import type { CallFailureReason } from './errors.js'
import { BALANCER_NAMES, createPicker } from './pickers.js'
import { RetryBudget } from './retry-budget.js'
import { describe, Session } from './session.js'
import type { SessionHost } from './session.js'
import { StallClock } from './stall-clock.js'
import { TypedEventTarget } from './typed-event-target.js'
import type {
  CallOptions,
  ClientPoolEvents,
  ClientPoolInit,
  EndpointSpec,
  HealthCheckInit,
  Logger,
  Picker,
  PoolStats,
  ScopeHandlers,
  ScopeInit,
  SubscribeOptions,
  SubscriptionsMovedEventDetail,
} from './types.js'

type Params<K extends keyof Client> = Client[K] extends (params: infer P, ...rest: never[]) => unknown ? P : never
type Result<K extends keyof Client> = Client[K] extends (...args: never[]) => Promise<infer R> ? R : never

/** The call API shared by a pool and its scopes. */
export interface ClientPoolView {
  /** `tools/call`, retried elsewhere only when safe (see the README). */
  callTool: (params: Params<'callTool'>, options?: CallOptions) => Promise<Result<'callTool'>>
  listTools: (params?: Params<'listTools'>, options?: CallOptions) => Promise<Result<'listTools'>>
  listResources: (params?: Params<'listResources'>, options?: CallOptions) => Promise<Result<'listResources'>>
  listResourceTemplates: (params?: Params<'listResourceTemplates'>, options?: CallOptions) => Promise<Result<'listResourceTemplates'>>
  readResource: (params: Params<'readResource'>, options?: CallOptions) => Promise<Result<'readResource'>>
  listPrompts: (params?: Params<'listPrompts'>, options?: CallOptions) => Promise<Result<'listPrompts'>>
  getPrompt: (params: Params<'getPrompt'>, options?: CallOptions) => Promise<Result<'getPrompt'>>
  complete: (params: Params<'complete'>, options?: CallOptions) => Promise<Result<'complete'>>
}

/** A view of the pool with its own upstream sessions (see `pool.scope()`). */
export interface ClientPoolScope extends ClientPoolView {
  /** The endpoint the scope sticks to, if it has used one. */
  readonly endpoint: string | undefined
  /**
   * `resources/subscribe` on the scope's sticky upstream session; the server's
   * `notifications/resources/updated` then reach `handlers.notification`. The scope keeps
   * its set of subscribed URIs and re-subscribes them on the new session when it moves to
   * another replica (the old one died, drains or stopped being a candidate), then tells
   * `handlers.notification` a `notifications/resources/updated` for each, since updates
   * may have been missed meanwhile (docs/decisions/0036). Subscribing twice is harmless.
   */
  subscribeResource: (params: { uri: string }, options?: SubscribeOptions) => Promise<Record<string, unknown>>
  /**
   * `resources/unsubscribe`; the URI leaves the scope's set even if the request fails.
   * A URI the scope is not subscribed to is a no-op.
   */
  unsubscribeResource: (params: { uri: string }, options?: SubscribeOptions) => Promise<Record<string, unknown>>
  /** The URIs the scope is subscribed to, and the endpoint whose session holds them. */
  readonly subscriptions: { readonly uris: readonly string[], readonly endpoint: string | undefined }
  /** Closes the scope's upstream sessions; its calls in flight fail. Idempotent. */
  close: () => Promise<void>
}

interface Operation<T> {
  method: string
  tool: string | undefined
  /** Known safety (reads are safe); undefined: ask the tool's annotations. */
  safe: boolean | undefined
  invoke: (client: Client, options: RequestOptions) => Promise<T>
  /** A subscription request: placing it does not make the scope's subscriptions follow. */
  subscription?: boolean
  /** Told the endpoint that answered. */
  answered?: (endpointId: string) => void
}

/** One call in progress, across its attempts. */
interface CallState<T> {
  scope: ScopeCore
  op: Operation<T>
  options: CallOptions | undefined
  request: RequestOptions
  tried: Endpoint[]
  attempts: number
  current: string
  /** When the current attempt's request was handed to the session (after any connect). */
  sentAt: number
  /** The backoff of the next retry. */
  backoff: IBackoff<IRetryBackoffContext<unknown>> | undefined
  /** The error of the last failed attempt. */
  lastError: unknown
}

/** A failed attempt as the retry policy sees it. */
class AttemptFailure extends Error {
  readonly error: unknown
  readonly endpointId: string
  readonly kind: FailureKind
  readonly retryable: boolean
  readonly call: CallState<unknown>
  budgetRefused = false

  constructor (error: unknown, endpointId: string, kind: FailureKind, retryable: boolean, call: CallState<unknown>) {
    super(describe(error))
    this.error = error
    this.endpointId = endpointId
    this.kind = kind
    this.retryable = retryable
    this.call = call
  }
}

const noop = (): void => {}
const noopLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop }
const defaultProbe = async (client: Client, { signal, timeoutMs }: { signal: AbortSignal, timeoutMs: number }): Promise<unknown> =>
  await client.ping({ signal, timeout: timeoutMs })

/** What every scope of a pool shares: session settings and the pool's session callbacks. */
interface PoolHooks {
  readonly clientInfo: Implementation
  readonly reconnect: SessionHost['reconnect']
  readonly logger: Logger
  readonly opened: (session: Session, client: Client) => void
  readonly closed: (session: Session, error: unknown) => void
  readonly toolsChanged: (client: Client) => void
  readonly subscriptionsLost: (scope: ScopeCore) => void
}

/** The sessions and stickiness of one scope; the pool itself is the root scope. */
class ScopeCore implements SessionHost {
  readonly clientInfo: Implementation
  readonly capabilities: ClientCapabilities
  readonly handlers: ScopeHandlers
  readonly reconnect: SessionHost['reconnect']
  readonly logger: Logger
  readonly sticky: boolean
  readonly extendTimeoutOnProgress: boolean | undefined
  readonly sessions = new Map<string, Session>()
  stickyId: string | undefined
  closed = false
  /** Subscribed resource URIs (docs/decisions/0036). */
  readonly subscriptions = new Set<string>()
  /** The endpoint whose session holds the subscriptions. */
  subsEndpoint: string | undefined
  /** Subscription requests and moves run one at a time. */
  subsQueue: Promise<unknown> = Promise.resolve()
  movePending = false
  moveTimer: ReturnType<typeof setTimeout> | undefined
  moveBackoff: IBackoff<unknown> | undefined
  private readonly hooks: PoolHooks

  constructor (hooks: PoolHooks, init: ScopeInit, sticky: boolean) {
    this.hooks = hooks
    this.clientInfo = hooks.clientInfo
    this.capabilities = init.capabilities ?? {}
    this.handlers = init.handlers ?? {}
    this.reconnect = hooks.reconnect
    this.logger = hooks.logger
    this.sticky = sticky
    this.extendTimeoutOnProgress = init.extendTimeoutOnProgress
  }

  session (endpoint: Endpoint): Session {
    let session = this.sessions.get(endpoint.id)
    if (session === undefined) {
      // A call still retrying after a forced close must not open a new session.
      if (this.closed) throw new PoolClosedError('pool scope')
      session = new Session(endpoint.spec, this)
      this.sessions.set(endpoint.id, session)
      endpoint.sessions.add(session)
    }
    return session
  }

  sessionOpened (session: Session, client: Client): void { this.hooks.opened(session, client) }
  sessionClosed (session: Session, error: unknown): void {
    this.hooks.closed(session, error)
    if (session.endpointId === this.subsEndpoint && this.subscriptions.size > 0 && !this.closed) this.hooks.subscriptionsLost(this)
  }
  toolsChanged (client: Client): void { this.hooks.toolsChanged(client) }

  async closeEndpoint (endpoint: Endpoint): Promise<void> {
    const session = this.sessions.get(endpoint.id)
    if (session === undefined) return
    this.sessions.delete(endpoint.id)
    endpoint.sessions.delete(session)
    await session.close()
  }

  async close (endpoints: Iterable<Endpoint>): Promise<void> {
    this.closed = true
    if (this.moveTimer !== undefined) clearTimeout(this.moveTimer)
    this.moveTimer = undefined
    await Promise.all([...endpoints].map(async (e) => { await this.closeEndpoint(e) }))
  }
}

/** Tool annotations, learnt from `tools/list` of the first session the pool opens and refreshed on `list_changed`. */
class ToolCatalog {
  private readonly known = new Map<string, ToolAnnotations | undefined>()
  private readonly given: Readonly<Record<string, ToolAnnotations>>
  private loading: Promise<void> | undefined
  loaded = false

  constructor (given: Readonly<Record<string, ToolAnnotations>>) {
    this.given = given
  }

  refresh (client: Client, timeoutMs: number, logger: Logger): void {
    if (this.loading !== undefined) return
    this.loading = (async () => {
      const next = new Map<string, ToolAnnotations | undefined>()
      let cursor: string | undefined
      do {
        const page = await client.listTools(cursor === undefined ? {} : { cursor }, { timeout: timeoutMs })
        for (const tool of page.tools) next.set(tool.name, tool.annotations)
        cursor = page.nextCursor
      } while (cursor !== undefined)
      this.known.clear()
      for (const [k, v] of next) this.known.set(k, v)
      this.loaded = true
    })().catch((err: unknown) => { logger.debug('tools/list for annotations failed: %s', describe(err)) })
      .finally(() => { this.loading = undefined })
  }

  async safe (tool: string): Promise<boolean> {
    let a: ToolAnnotations | undefined = this.given[tool]
    if (a === undefined) {
      if (!this.known.has(tool) && this.loading !== undefined) await this.loading
      a = this.known.get(tool)
    }
    return a?.readOnlyHint === true || a?.idempotentHint === true
  }
}

interface HealthSettings { intervalMs: number, timeoutMs: number, healthyThreshold: number, unhealthyThreshold: number, probe: NonNullable<HealthCheckInit['probe']> }
interface OutlierSettings { consecutiveFailures: number, baseEjectionMs: number, maxEjectionMs: number, maxEjectedPercent: number }

function positive (option: string, value: unknown, fallback: number, integer = false, allowZero = false): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0 || (!allowZero && value === 0) || (integer && !Number.isInteger(value))) {
    throw new InvalidOptionsError(option, value, `a ${integer ? 'whole ' : ''}number ${allowZero ? '>= 0' : '> 0'}`)
  }
  return value
}

function labelsMatch (labels: Readonly<Record<string, string>>, required: Readonly<Record<string, string>> | undefined): boolean {
  if (required === undefined) return true
  for (const k in required) if (labels[k] !== required[k]) return false
  return true
}

/**
 * A pool of MCP clients over the replicas of one server. Create it with
 * `createClientPool()`.
 */
export class ClientPool extends TypedEventTarget<ClientPoolEvents> implements ClientPoolView {
  private readonly hooks: PoolHooks
  private readonly logger: Logger
  private readonly stalls: StallClock | undefined
  private readonly endpoints = new Map<string, Endpoint>()
  private list: Endpoint[] = []
  private readonly candidates: Endpoint[] = []
  private readonly picker: Picker
  private readonly pickContext: { key: string | undefined, random: () => number }
  private readonly random: () => number
  private readonly policies: EndpointPolicies
  private readonly health: HealthSettings | undefined
  private readonly outlier: OutlierSettings | undefined
  private readonly backoff: IBackoffFactory<IRetryBackoffContext<unknown>> | undefined
  private readonly maxAttempts: number
  private readonly budget: RetryBudget | undefined
  private readonly idempotency: 'annotations' | 'never'
  private readonly requestTimeoutMs: number
  private readonly toolTimeoutsMs: Readonly<Record<string, number>>
  private readonly extendTimeoutOnProgress: boolean
  private readonly moveBackoff: ExponentialBackoff<unknown>
  private readonly catalog: ToolCatalog
  private readonly root: ScopeCore
  private readonly scopes = new Set<ScopeCore>()
  private readonly disposables = new Map<string, IDisposable[]>()
  private counters = { calls: 0, retries: 0, budgetExhausted: 0 }
  private activeCalls = 0
  private closeWaiters: Array<() => void> = []
  private closing: Promise<void> | undefined
  private readonly neverAborted = new AbortController().signal

  constructor (init: ClientPoolInit = {}) {
    super()
    if (typeof init !== 'object' || init === null) throw new InvalidOptionsError('init', init, 'an options object')
    this.logger = init.logger?.child?.({ component: 'client-pool' }) ?? init.logger ?? noopLogger
    this.random = init.random ?? Math.random
    this.pickContext = { key: undefined, random: this.random }

    const balancer = init.balancer ?? 'peak-ewma'
    if (typeof balancer === 'string') {
      if (!BALANCER_NAMES.includes(balancer)) throw new InvalidOptionsError('balancer', balancer, `one of ${BALANCER_NAMES.join(', ')}, or a picker { pick(candidates, context) }`)
      this.picker = createPicker(balancer)
    } else if (typeof balancer === 'object' && balancer !== null && typeof balancer.pick === 'function') {
      this.picker = balancer
    } else {
      throw new InvalidOptionsError('balancer', balancer, `one of ${BALANCER_NAMES.join(', ')}, or a picker { pick(candidates, context) }`)
    }

    const hc = init.healthCheck ?? {}
    this.health = hc === false
      ? undefined
      : {
          intervalMs: positive('healthCheck.intervalMs', hc.intervalMs, C.DEFAULT_HEALTH_CHECK_INTERVAL_MS),
          timeoutMs: positive('healthCheck.timeoutMs', hc.timeoutMs, C.DEFAULT_HEALTH_CHECK_TIMEOUT_MS),
          healthyThreshold: positive('healthCheck.healthyThreshold', hc.healthyThreshold, C.DEFAULT_HEALTHY_THRESHOLD, true),
          unhealthyThreshold: positive('healthCheck.unhealthyThreshold', hc.unhealthyThreshold, C.DEFAULT_UNHEALTHY_THRESHOLD, true),
          probe: hc.probe ?? defaultProbe,
        }

    const od = init.outlierDetection ?? {}
    this.outlier = od === false
      ? undefined
      : {
          consecutiveFailures: positive('outlierDetection.consecutiveFailures', od.consecutiveFailures, C.DEFAULT_CONSECUTIVE_FAILURES, true),
          baseEjectionMs: positive('outlierDetection.baseEjectionMs', od.baseEjectionMs, C.DEFAULT_BASE_EJECTION_MS),
          maxEjectionMs: positive('outlierDetection.maxEjectionMs', od.maxEjectionMs, C.DEFAULT_MAX_EJECTION_MS),
          maxEjectedPercent: positive('outlierDetection.maxEjectedPercent', od.maxEjectedPercent, C.DEFAULT_MAX_EJECTED_PERCENT, false, true),
        }
    if (this.outlier !== undefined && this.outlier.maxEjectedPercent > 100) {
      throw new InvalidOptionsError('outlierDetection.maxEjectedPercent', this.outlier.maxEjectedPercent, 'a percentage from 0 to 100')
    }

    const cb = init.circuitBreaker ?? {}
    const bh = init.bulkhead ?? {}
    this.policies = {
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

    const rt = init.retry ?? {}
    if (rt === false) {
      this.maxAttempts = 1
      this.idempotency = 'never'
    } else {
      this.maxAttempts = positive('retry.maxAttempts', rt.maxAttempts, C.DEFAULT_MAX_ATTEMPTS, true)
      this.idempotency = rt.idempotency ?? 'annotations'
      if (this.idempotency !== 'annotations' && this.idempotency !== 'never') {
        throw new InvalidOptionsError('retry.idempotency', this.idempotency, "'annotations' or 'never'")
      }
      const percent = positive('retry.budgetPercent', rt.budgetPercent, C.DEFAULT_BUDGET_PERCENT, false, true)
      const minPerSecond = positive('retry.minRetriesPerSecond', rt.minRetriesPerSecond, C.DEFAULT_MIN_RETRIES_PER_SECOND, false, true)
      const windowMs = positive('retry.budgetWindowMs', rt.budgetWindowMs, C.DEFAULT_BUDGET_WINDOW_MS)
      this.budget = new RetryBudget(percent, minPerSecond, windowMs, () => performance.now())
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
        throw new InvalidOptionsError('retry.backoff', backoff, "'exponential-jitter', 'none' or a cockatiel backoff factory")
      }
      this.backoff = factory
    }

    this.requestTimeoutMs = positive('requestTimeoutMs', init.requestTimeoutMs, C.DEFAULT_REQUEST_TIMEOUT_MS)
    this.toolTimeoutsMs = init.toolTimeoutsMs ?? {}
    for (const [tool, ms] of Object.entries(this.toolTimeoutsMs)) positive(`toolTimeoutsMs.${tool}`, ms, 1)
    this.extendTimeoutOnProgress = flag('extendTimeoutOnProgress', init.extendTimeoutOnProgress) ?? false
    const rc = init.reconnect ?? {}
    this.catalog = new ToolCatalog(init.toolAnnotations ?? {})
    this.hooks = {
      clientInfo: init.clientInfo ?? { ...C.DEFAULT_CLIENT_INFO },
      reconnect: {
        initialDelayMs: positive('reconnect.initialDelayMs', rc.initialDelayMs, C.DEFAULT_RECONNECT_INITIAL_DELAY_MS),
        maxDelayMs: positive('reconnect.maxDelayMs', rc.maxDelayMs, C.DEFAULT_RECONNECT_MAX_DELAY_MS),
        connectTimeoutMs: positive('reconnect.connectTimeoutMs', rc.connectTimeoutMs, C.DEFAULT_CONNECT_TIMEOUT_MS),
      },
      logger: this.logger,
      opened: (session, client) => {
        if (!this.catalog.loaded) this.catalog.refresh(client, this.requestTimeoutMs, this.logger)
        this.emit('session:open', { id: session.endpointId })
      },
      closed: (session, error) => { this.emit('session:closed', { id: session.endpointId, error }) },
      toolsChanged: (client) => { this.catalog.refresh(client, this.requestTimeoutMs, this.logger) },
      subscriptionsLost: (scope) => { this.queueMove(scope, 'session-lost') },
    }
    this.moveBackoff = new ExponentialBackoff({ initialDelay: this.hooks.reconnect.initialDelayMs, maxDelay: this.hooks.reconnect.maxDelayMs })
    const stallMs = positive('stallCheckIntervalMs', init.stallCheckIntervalMs, C.DEFAULT_STALL_CHECK_INTERVAL_MS, false, true)
    if (stallMs > 0) {
      this.stalls = new StallClock(stallMs, () => performance.now())
      this.stalls.start()
    }
    this.root = new ScopeCore(this.hooks, {}, false)
    this.scopes.add(this.root)
    for (const spec of init.endpoints ?? []) this.add(spec)
  }

  // ---------------------------------------------------------------------------------------
  // Registry

  /** Adds a replica; it takes calls at once and is health-checked from now on. */
  add (spec: EndpointSpec): void {
    if (this.closing !== undefined) throw new PoolClosedError()
    if (typeof spec !== 'object' || spec === null) throw new InvalidOptionsError('endpoint', spec, 'an object { id, connect }')
    if (typeof spec.id !== 'string' || spec.id === '') throw new InvalidOptionsError('endpoint.id', spec.id, 'a non-empty string')
    if (typeof spec.connect !== 'function') throw new InvalidOptionsError(`endpoint ${spec.id} connect`, spec.connect, 'a function returning an MCP Transport')
    positive(`endpoint ${spec.id} weight`, spec.weight, 1)
    if (spec.labels !== undefined && (typeof spec.labels !== 'object' || spec.labels === null)) {
      throw new InvalidOptionsError(`endpoint ${spec.id} labels`, spec.labels, 'an object of strings')
    }
    if (this.endpoints.has(spec.id)) throw new DuplicateEndpointError(spec.id)
    const ep = new Endpoint(spec, this.policies)
    this.endpoints.set(spec.id, ep)
    this.list = [...this.endpoints.values()]
    this.picker.update?.(this.list)
    if (ep.breaker !== undefined) {
      const b = ep.breaker
      this.disposables.set(ep.id, [
        b.onBreak((reason) => {
          ep.breakerOpenedAt = Date.now()
          this.emit('breaker', { id: ep.id, state: 'isolated' in reason ? 'isolated' : 'open' })
        }),
        b.onHalfOpen(() => { this.emit('breaker', { id: ep.id, state: 'half-open' }) }),
        b.onReset(() => { this.emit('breaker', { id: ep.id, state: 'closed' }) }),
      ])
    }
    this.emit('endpoint:added', { id: ep.id })
    if (this.health !== undefined) this.scheduleHealthCheck(ep, 0)
  }

  /** Stops sending new calls to an endpoint and resolves once its calls in flight have ended. */
  async drain (id: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    const ep = this.get(id)
    if (!ep.draining) {
      ep.draining = true
      for (const scope of this.scopes) {
        if (scope.stickyId === id) scope.stickyId = undefined
        if (scope.subsEndpoint === id && scope.subscriptions.size > 0) this.queueMove(scope, 'draining')
      }
      this.emit('endpoint:draining', { id })
    }
    if (ep.inFlight === 0) return
    options.signal?.throwIfAborted()
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => { reject(options.signal?.reason as Error) }
      ep.drainWaiters.push(() => { options.signal?.removeEventListener('abort', onAbort); resolve() })
      options.signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  /** Drains an endpoint, then closes its sessions and forgets it. With an aborted `signal`, calls still in flight fail. */
  async remove (id: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    const ep = this.get(id)
    try { await this.drain(id, options) } catch { /* aborted: close anyway */ }
    if (this.endpoints.get(id) !== ep) return
    this.endpoints.delete(id)
    this.list = [...this.endpoints.values()]
    this.picker.update?.(this.list)
    this.stopEndpoint(ep)
    await Promise.all([...this.scopes].map(async (s) => { await s.closeEndpoint(ep) }))
    this.emit('endpoint:removed', { id })
  }

  /** Ids of the endpoints in the pool. */
  ids (): string[] {
    return this.list.map((e) => e.id)
  }

  /** A snapshot of every endpoint's state and of the pool's counters. */
  stats (): PoolStats {
    return {
      endpoints: this.list.map((e) => ({
        id: e.id,
        state: e.state(),
        breaker: e.breakerState(),
        weight: e.weight,
        labels: e.labels,
        inFlight: e.inFlight,
        ewmaLatencyMs: e.latencyMs(),
        successRate: e.successRate,
        requests: e.requests,
        failures: e.failures,
        ejections: e.ejections,
        sessions: e.openSessions(),
      })),
      calls: this.counters.calls,
      retries: this.counters.retries,
      budgetExhausted: this.counters.budgetExhausted,
      inFlight: this.activeCalls,
    }
  }

  /**
   * A view with the same call API whose upstream sessions (one per endpoint it uses,
   * opened lazily) declare `capabilities` and send server-to-client requests and
   * notifications to `handlers`. Health, load, breakers and ejection stay shared.
   */
  scope (init: ScopeInit = {}): ClientPoolScope {
    if (this.closing !== undefined) throw new PoolClosedError()
    const caps = init.capabilities ?? {}
    const h = init.handlers ?? {}
    if (h.sampling !== undefined && caps.sampling === undefined) throw new InvalidOptionsError('scope handlers.sampling', 'set', 'capabilities.sampling declared too')
    if (h.elicitation !== undefined && caps.elicitation === undefined) throw new InvalidOptionsError('scope handlers.elicitation', 'set', 'capabilities.elicitation declared too')
    if (h.roots !== undefined && caps.roots === undefined) throw new InvalidOptionsError('scope handlers.roots', 'set', 'capabilities.roots declared too')
    flag('scope extendTimeoutOnProgress', init.extendTimeoutOnProgress)
    const core = new ScopeCore(this.hooks, init, init.sticky ?? true)
    this.scopes.add(core)
    return this.view(core, async () => {
      if (core.closed || !this.scopes.has(core)) return
      this.scopes.delete(core)
      await this.unsubscribeAll(core)
      await core.close(this.list)
    })
  }

  /** Stops taking calls, waits for the calls in flight (all of them, or until `signal` aborts), then closes every session. Idempotent. */
  async close (options: { signal?: AbortSignal } = {}): Promise<void> {
    this.closing ??= (async () => {
      if (this.activeCalls > 0 && options.signal?.aborted !== true) {
        await new Promise<void>((resolve) => {
          const done = (): void => { options.signal?.removeEventListener('abort', done); resolve() }
          this.closeWaiters.push(done)
          options.signal?.addEventListener('abort', done, { once: true })
        })
      }
      for (const ep of this.list) this.stopEndpoint(ep)
      this.stalls?.stop()
      await Promise.all([...this.scopes].map(async (s) => { await s.close(this.list) }))
    })()
    await this.closing
  }

  // ---------------------------------------------------------------------------------------
  // Call API of the root scope

  callTool (params: Params<'callTool'>, options?: CallOptions): Promise<Result<'callTool'>> {
    return this.run(this.root, callToolOp(params), options)
  }

  async listTools (params?: Params<'listTools'>, options?: CallOptions): Promise<Result<'listTools'>> {
    return await this.run(this.root, readOp('tools/list', async (c, o) => await c.listTools(params, o)), options)
  }

  async listResources (params?: Params<'listResources'>, options?: CallOptions): Promise<Result<'listResources'>> {
    return await this.run(this.root, readOp('resources/list', async (c, o) => await c.listResources(params, o)), options)
  }

  async listResourceTemplates (params?: Params<'listResourceTemplates'>, options?: CallOptions): Promise<Result<'listResourceTemplates'>> {
    return await this.run(this.root, readOp('resources/templates/list', async (c, o) => await c.listResourceTemplates(params, o)), options)
  }

  async readResource (params: Params<'readResource'>, options?: CallOptions): Promise<Result<'readResource'>> {
    return await this.run(this.root, readOp('resources/read', async (c, o) => await c.readResource(params, o)), options)
  }

  async listPrompts (params?: Params<'listPrompts'>, options?: CallOptions): Promise<Result<'listPrompts'>> {
    return await this.run(this.root, readOp('prompts/list', async (c, o) => await c.listPrompts(params, o)), options)
  }

  async getPrompt (params: Params<'getPrompt'>, options?: CallOptions): Promise<Result<'getPrompt'>> {
    return await this.run(this.root, readOp('prompts/get', async (c, o) => await c.getPrompt(params, o)), options)
  }

  async complete (params: Params<'complete'>, options?: CallOptions): Promise<Result<'complete'>> {
    return await this.run(this.root, readOp('completion/complete', async (c, o) => await c.complete(params, o)), options)
  }

  // ---------------------------------------------------------------------------------------
  // The call path

  private view (core: ScopeCore, close: () => Promise<void>): ClientPoolScope {
    return {
      get endpoint () { return core.stickyId },
      callTool: (params, options) => this.run(core, callToolOp(params), options),
      listTools: async (params, options) => await this.run(core, readOp('tools/list', async (c, o) => await c.listTools(params, o)), options),
      listResources: async (params, options) => await this.run(core, readOp('resources/list', async (c, o) => await c.listResources(params, o)), options),
      listResourceTemplates: async (params, options) =>
        await this.run(core, readOp('resources/templates/list', async (c, o) => await c.listResourceTemplates(params, o)), options),
      readResource: async (params, options) => await this.run(core, readOp('resources/read', async (c, o) => await c.readResource(params, o)), options),
      listPrompts: async (params, options) => await this.run(core, readOp('prompts/list', async (c, o) => await c.listPrompts(params, o)), options),
      getPrompt: async (params, options) => await this.run(core, readOp('prompts/get', async (c, o) => await c.getPrompt(params, o)), options),
      complete: async (params, options) => await this.run(core, readOp('completion/complete', async (c, o) => await c.complete(params, o)), options),
      subscribeResource: async (params, options) => await this.subscribe(core, params, options),
      unsubscribeResource: async (params, options) => await this.unsubscribe(core, params, options),
      get subscriptions () { return { uris: [...core.subscriptions], endpoint: core.subscriptions.size === 0 ? undefined : core.subsEndpoint } },
      close,
    }
  }

  private async run<T> (scope: ScopeCore, op: Operation<T>, options: CallOptions | undefined, avoid?: Endpoint): Promise<T> {
    if (this.closing !== undefined) throw new PoolClosedError()
    if (scope.closed) throw new PoolClosedError('pool scope')
    const signal = options?.signal
    signal?.throwIfAborted()
    this.counters.calls++
    this.activeCalls++
    this.budget?.recordCall()
    const onProgress = options?.onProgress
    const scopeProgress = scope.handlers.progress
    // Progress extends the timeout when someone listens (docs/decisions/0032), or when asked
    // to without listening (docs/decisions/0039).
    const extend = options?.extendTimeoutOnProgress ??
      (onProgress !== undefined || scopeProgress !== undefined || (scope.extendTimeoutOnProgress ?? this.extendTimeoutOnProgress))
    const call: CallState<T> = {
      scope,
      op,
      options,
      request: {
        signal,
        timeout: options?.timeoutMs ?? (op.tool === undefined ? undefined : this.toolTimeoutsMs[op.tool]) ?? this.requestTimeoutMs,
        maxTotalTimeout: options?.maxTotalTimeoutMs,
        resetTimeoutOnProgress: extend,
        // The SDK asks for progress only with an onprogress callback.
        onprogress: onProgress,
      },
      tried: avoid === undefined ? [] : [avoid],
      attempts: 0,
      current: '',
      sentAt: 0,
      backoff: undefined,
      lastError: undefined,
    }
    if (onProgress === undefined) {
      if (scopeProgress !== undefined) {
        call.request.onprogress = (p) => { scopeProgress(p, { endpointId: call.current, signal: signal ?? this.neverAborted }) }
      } else if (extend) {
        call.request.onprogress = noop
      }
    }
    try {
      for (;;) {
        try {
          return await this.attempt(call)
        } catch (err) {
          if (!(err instanceof AttemptFailure) || !this.mayRetry(err)) throw this.finalError(call, err)
          await this.pause(call, err)
        }
      }
    } finally {
      if (--this.activeCalls === 0 && this.closeWaiters.length > 0) {
        const waiters = this.closeWaiters
        this.closeWaiters = []
        for (const w of waiters) w()
      }
    }
  }

  // ---------------------------------------------------------------------------------------
  // Resource subscriptions (docs/decisions/0036)

  /** Runs subscription work of a scope one task at a time. */
  private async serial<T> (scope: ScopeCore, task: () => Promise<T>): Promise<T> {
    const next = scope.subsQueue.then(task, task)
    scope.subsQueue = next.catch(noop)
    return await next
  }

  /** The endpoint holding the scope's subscriptions, if its session is open and it can take calls. */
  private subscriptionHolder (scope: ScopeCore): string | undefined {
    const id = scope.subsEndpoint
    if (id === undefined || scope.subscriptions.size === 0) return undefined
    const ep = this.endpoints.get(id)
    if (ep === undefined || ep.unavailable(false) !== undefined) return undefined
    return scope.sessions.get(id)?.client === undefined ? undefined : id
  }

  private async subscribe (scope: ScopeCore, params: { uri: string }, options: SubscribeOptions | undefined): Promise<Record<string, unknown>> {
    const uri = checkUri(params)
    if (this.closing !== undefined) throw new PoolClosedError()
    if (scope.closed) throw new PoolClosedError('pool scope')
    return await this.serial(scope, async () => {
      const holder = this.subscriptionHolder(scope)
      const call = { signal: options?.signal, timeoutMs: options?.timeoutMs }
      if (holder !== undefined) {
        const result = await this.run(scope, subscriptionOp('resources/subscribe', uri), { ...call, endpoint: holder })
        scope.subscriptions.add(uri)
        return result
      }
      // No live session holds the scope's subscriptions (the first one, or it was lost):
      // place this one as a call would go, and bring the others along.
      let to = ''
      const result = await this.run(scope, subscriptionOp('resources/subscribe', uri, (id) => { to = id }), call)
      const from = scope.subsEndpoint
      const others = [...scope.subscriptions].filter((u) => u !== uri)
      scope.subscriptions.add(uri)
      if (others.length === 0) {
        scope.subsEndpoint = to
        return result
      }
      const old = from === undefined ? undefined : this.endpoints.get(from)
      const reason = old === undefined || scope.sessions.get(old.id)?.client === undefined ? 'session-lost' : old.draining ? 'draining' : 'moved'
      try {
        await this.moveTo(scope, to, others, from, reason, [])
      } catch (err) {
        // This URI is subscribed; the others are re-placed in the background.
        this.logger.debug('moving subscriptions to %s failed: %s', to, describe(err))
        scope.subsEndpoint = to
        this.queueMove(scope, reason)
      }
      return result
    })
  }

  private async unsubscribe (scope: ScopeCore, params: { uri: string }, options: SubscribeOptions | undefined): Promise<Record<string, unknown>> {
    const uri = checkUri(params)
    return await this.serial(scope, async () => {
      if (!scope.subscriptions.delete(uri)) return {}
      const holder = scope.subsEndpoint
      if (scope.subscriptions.size === 0) scope.subsEndpoint = undefined
      if (holder === undefined || scope.closed || scope.sessions.get(holder)?.client === undefined) return {}
      return await this.run(scope, subscriptionOp('resources/unsubscribe', uri), { signal: options?.signal, timeoutMs: options?.timeoutMs, endpoint: holder })
    })
  }

  /** Moves a scope's subscriptions to another endpoint soon (once, however often asked). */
  private queueMove (scope: ScopeCore, reason: SubscriptionsMovedEventDetail['reason']): void {
    if (scope.movePending || scope.closed) return
    scope.movePending = true
    if (scope.moveTimer !== undefined) clearTimeout(scope.moveTimer)
    scope.moveTimer = undefined
    void this.serial(scope, async () => {
      scope.movePending = false
      await this.move(scope, reason)
    })
  }

  private async move (scope: ScopeCore, reason: SubscriptionsMovedEventDetail['reason']): Promise<void> {
    if (scope.closed || this.closing !== undefined) return
    const uris = [...scope.subscriptions]
    const from = scope.subsEndpoint
    if (uris.length === 0) {
      scope.subsEndpoint = undefined
      return
    }
    const [first, ...rest] = uris as [string, ...string[]]
    try {
      let to = ''
      // Placed as a call of the scope would be (its sticky endpoint first), away from the old holder if possible.
      await this.run(scope, subscriptionOp('resources/subscribe', first, (id) => { to = id }), undefined,
        from === undefined ? undefined : this.endpoints.get(from))
      await this.moveTo(scope, to, rest, from, reason, [first])
      scope.moveBackoff = undefined
    } catch (err) {
      if (scope.closed || this.closing !== undefined) return
      scope.moveBackoff = scope.moveBackoff === undefined ? this.moveBackoff.next() : scope.moveBackoff.next(undefined)
      const retryInMs = scope.moveBackoff.duration
      this.logger.warn('re-subscribing %d resources failed: %s; next attempt in %d ms', uris.length, describe(err), retryInMs)
      this.emit('subscriptions:failed', { from, uris, error: err, retryInMs })
      scope.moveTimer = setTimeout(() => {
        scope.moveTimer = undefined
        this.queueMove(scope, reason)
      }, retryInMs)
      scope.moveTimer.unref?.()
    }
  }

  /**
   * Subscribes `rest` on `to` (where `done` already are), makes `to` the holder, lets the
   * old holder go, and tells the scope every moved URI was updated.
   */
  private async moveTo (scope: ScopeCore, to: string, rest: string[], from: string | undefined,
    reason: SubscriptionsMovedEventDetail['reason'], done: string[] = []): Promise<void> {
    await Promise.all(rest.map(async (uri) => {
      await this.run(scope, subscriptionOp('resources/subscribe', uri), { endpoint: to })
    }))
    scope.subsEndpoint = to
    const uris = [...done, ...rest]
    // Best effort: the old session may still be open (draining, or the scope moved away from it).
    if (from !== undefined && from !== to) void this.unsubscribeOn(scope, from, uris, this.requestTimeoutMs)
    this.emit('subscriptions:moved', { from, to, uris, reason })
    const notify = scope.handlers.notification
    const session = scope.sessions.get(to)
    if (notify === undefined || session === undefined) return
    const context = { endpointId: to, signal: session.signal }
    for (const uri of uris) {
      // The resource may have changed while no session was subscribed: the client should read it again.
      void (async () => { await notify({ method: 'notifications/resources/updated', params: { uri } }, context) })()
        .catch((err: unknown) => { this.logger.warn('notification handler failed: %s', describe(err)) })
    }
  }

  /** Unsubscribes `uris` on the scope's open session to `endpointId`, if any, ignoring failures. */
  private async unsubscribeOn (scope: ScopeCore, endpointId: string, uris: readonly string[], timeoutMs: number): Promise<void> {
    const client = scope.sessions.get(endpointId)?.client
    if (client === undefined) return
    await Promise.allSettled(uris.map(async (uri) => { await client.unsubscribeResource({ uri }, { timeout: timeoutMs }) }))
  }

  /** On scope close: ends its subscriptions on the holder (closing the session ends them too, but not at once on every transport). */
  private async unsubscribeAll (scope: ScopeCore): Promise<void> {
    const holder = scope.subsEndpoint
    const uris = [...scope.subscriptions]
    scope.subscriptions.clear()
    scope.subsEndpoint = undefined
    if (scope.moveTimer !== undefined) clearTimeout(scope.moveTimer)
    scope.moveTimer = undefined
    if (holder !== undefined && uris.length > 0) await this.unsubscribeOn(scope, holder, uris, C.UNSUBSCRIBE_ON_CLOSE_TIMEOUT_MS)
  }

  /** Waits the backoff before the next attempt (decorrelated jitter by default), and says so. */
  private async pause (call: CallState<unknown>, failure: AttemptFailure): Promise<void> {
    const factory = this.backoff!
    const context = { attempt: call.attempts, signal: call.request.signal ?? this.neverAborted, result: { error: failure.error } }
    call.backoff = call.backoff === undefined ? factory.next(context) : call.backoff.next(context)
    const delayMs = call.backoff.duration
    this.counters.retries++
    this.emit('retry', { id: failure.endpointId, attempt: call.attempts, delayMs, method: call.op.method, error: failure.error })
    if (delayMs > 0) await sleep(delayMs, call.request.signal)
  }

  private async attempt<T> (call: CallState<T>): Promise<T> {
    const ep = this.choose(call)
    call.attempts++
    call.tried.push(ep)
    call.current = ep.id
    const probe = ep.breakerTesting()
    if (probe) ep.probing = true
    ep.inFlight++
    call.sentAt = 0
    const signal = call.request.signal
    let acquired = false
    try {
      if (!ep.tryAcquire()) await ep.acquire(signal)
      acquired = true
      const client = call.scope.session(ep).client
      const breaker = ep.breaker
      // The fast path (session open) sends at once; otherwise the session opens inside the
      // breaker, so that a replica that cannot be reached counts as failing.
      const result = breaker === undefined
        ? await (client === undefined ? this.openAndSend(ep, call) : this.send(client, call))
        : await breaker.execute(client === undefined ? () => this.openAndSend(ep, call) : () => this.send(client, call), signal)
      ep.recordSuccess(this.latency(call.sentAt))
      call.op.answered?.(ep.id)
      const scope = call.scope
      // The scope moved to another replica: its subscriptions follow (docs/decisions/0036).
      if (scope.subsEndpoint !== undefined && scope.stickyId === ep.id && scope.subsEndpoint !== ep.id &&
        call.op.subscription !== true && scope.subscriptions.size > 0) this.queueMove(scope, 'moved')
      return result
    } catch (err) {
      if (signal?.aborted === true) throw signal.reason
      const kind = classify(err)
      // Latency counts from the send; connecting or waiting in the bulkhead is not the replica's answer time.
      const elapsed = call.sentAt === 0 ? 0 : this.latency(call.sentAt)
      if (kind === 'caller') {
        // The replica answered; the request was at fault.
        ep.recordSuccess(elapsed)
        throw err
      }
      if (kind !== 'refused') {
        const failures = ep.recordFailure(elapsed)
        if (this.outlier !== undefined && failures >= this.outlier.consecutiveFailures) this.eject(ep)
      }
      call.lastError = err
      const retryable = kind === 'refused' || kind === 'unreachable' || await this.safe(call)
      throw new AttemptFailure(err, ep.id, kind, retryable, call)
    } finally {
      if (acquired) ep.release()
      ep.inFlight--
      if (probe) ep.probing = false
      if (ep.drainWaiters.length > 0) ep.settleDrain()
    }
  }

  /** Time since `sentAt`, less the time this process's event loop was stalled meanwhile. */
  private latency (sentAt: number): number {
    const now = performance.now()
    const stall = this.stalls === undefined ? 0 : this.stalls.stalled(sentAt, now)
    return Math.max(now - sentAt - stall, 0)
  }

  // Not async: one promise less per call on the hot path.
  private send<T> (client: Client, call: CallState<T>): Promise<T> {
    call.sentAt = performance.now()
    return call.op.invoke(client, call.request)
  }

  private async openAndSend<T> (ep: Endpoint, call: CallState<T>): Promise<T> {
    const client = await call.scope.session(ep).open()
    return await this.send(client, call)
  }

  private async safe (call: CallState<unknown>): Promise<boolean> {
    if (this.backoff === undefined) return false
    const own = call.options?.idempotent
    if (own !== undefined) return own
    if (call.op.safe !== undefined) return call.op.safe
    if (this.idempotency === 'never' || call.op.tool === undefined) return false
    return await this.catalog.safe(call.op.tool)
  }

  /** Retry a safe failure while attempts and budget remain. */
  private mayRetry (error: AttemptFailure): boolean {
    if (!error.retryable || this.backoff === undefined) return false
    const signal = error.call.request.signal
    if (signal?.aborted === true) return false
    if (error.call.attempts >= this.maxAttempts) return false
    if (this.budget !== undefined && !this.budget.tryWithdraw()) {
      error.budgetRefused = true
      this.counters.budgetExhausted++
      return false
    }
    return true
  }

  private finalError (call: CallState<unknown>, err: unknown): unknown {
    if (!(err instanceof AttemptFailure)) return err
    if (err.kind === 'caller') return err.error
    let reason: CallFailureReason
    if (err.budgetRefused) reason = 'budget-exhausted'
    else if (!err.retryable) reason = this.backoff === undefined ? 'retry-disabled' : 'not-idempotent'
    else if (this.backoff === undefined) reason = 'retry-disabled'
    else reason = 'attempts-exhausted'
    return new CallFailedError(call.op.method, err.endpointId, call.attempts, reason, err.kind === 'refused' || err.kind === 'unreachable', err.error)
  }

  /** Picks the endpoint of the next attempt, or throws NoEndpointAvailableError. */
  private choose (call: CallState<unknown>): Endpoint {
    const { scope, options, tried } = call
    const pinned = options?.endpoint
    const required = options?.require
    if (pinned !== undefined && !this.endpoints.has(pinned)) throw new UnknownEndpointError(pinned, this.ids())
    if (scope.sticky && scope.stickyId !== undefined && pinned === undefined) {
      const ep = this.endpoints.get(scope.stickyId)
      if (ep !== undefined && !tried.includes(ep) && labelsMatch(ep.labels, required) && ep.unavailable(false) === undefined) return ep
    }
    const candidates = this.candidates
    // Passes: healthy and untried; healthy and tried again; then panic (health and ejection ignored).
    for (let pass = 0; pass < 4; pass++) {
      const panic = pass >= 2
      const skipTried = pass % 2 === 0
      if (!skipTried && tried.length === 0) continue
      candidates.length = 0
      for (const ep of this.list) {
        if (pinned !== undefined && ep.id !== pinned) continue
        if (skipTried && tried.includes(ep)) continue
        if (!labelsMatch(ep.labels, required)) continue
        if (ep.unavailable(panic) !== undefined) continue
        candidates.push(ep)
      }
      if (candidates.length === 0) continue
      this.pickContext.key = options?.key
      const picked = this.picker.pick(candidates, this.pickContext)
      candidates.length = 0
      if (picked !== undefined) {
        const ep = this.endpoints.get(picked.id)
        if (ep === undefined) throw new TypeError(`the picker returned ${picked.id}, which is not one of the candidates`)
        if (scope.sticky && pinned === undefined) scope.stickyId = ep.id
        return ep
      }
    }
    const reasons: Record<string, string> = {}
    for (const ep of this.list) {
      if (pinned !== undefined && ep.id !== pinned) continue
      reasons[ep.id] = labelsMatch(ep.labels, required)
        ? ep.unavailable(true) ?? ep.unavailable(false) ?? 'passed over by the picker'
        : `labels ${JSON.stringify(ep.labels)} lack ${JSON.stringify(required)}`
    }
    // On a retry, the failure that led here is the cause.
    throw new NoEndpointAvailableError(call.op.method, reasons, call.lastError === undefined ? undefined : { cause: call.lastError })
  }

  private get (id: string): Endpoint {
    const ep = this.endpoints.get(id)
    if (ep === undefined) throw new UnknownEndpointError(id, this.ids())
    return ep
  }

  // ---------------------------------------------------------------------------------------
  // Outlier ejection

  private eject (ep: Endpoint): void {
    const od = this.outlier
    if (od === undefined || ep.ejected || ep.draining) return
    let ejected = 0
    for (const e of this.list) if (e.ejected) ejected++
    const allowed = Math.max(1, Math.floor(this.list.length * od.maxEjectedPercent / 100))
    if (ejected >= allowed) return
    const now = Date.now()
    // Each quiet base period since the last ejection forgives one ejection of the streak.
    const forgiven = ep.ejectionStreak === 0 ? 0 : Math.floor((now - ep.lastEjectionAt) / od.baseEjectionMs) - ep.ejectionStreak
    ep.ejectionStreak = Math.max(0, ep.ejectionStreak - Math.max(0, forgiven)) + 1
    const durationMs = Math.min(od.baseEjectionMs * ep.ejectionStreak, od.maxEjectionMs)
    ep.ejected = true
    ep.ejectedUntil = now + durationMs
    ep.lastEjectionAt = now
    ep.ejections++
    this.emit('endpoint:ejected', { id: ep.id, durationMs, ejections: ep.ejections })
    ep.ejectionTimer = setTimeout(() => {
      ep.ejectionTimer = undefined
      ep.ejected = false
      ep.consecutiveFailures = 0
      this.emit('endpoint:restored', { id: ep.id })
    }, durationMs)
    ep.ejectionTimer.unref?.()
  }

  // ---------------------------------------------------------------------------------------
  // Active health checks

  private scheduleHealthCheck (ep: Endpoint, delayMs: number): void {
    ep.healthTimer = setTimeout(() => {
      ep.healthTimer = undefined
      void this.healthCheck(ep)
    }, delayMs)
    ep.healthTimer.unref?.()
  }

  private async healthCheck (ep: Endpoint): Promise<void> {
    const hc = this.health
    if (hc === undefined || this.closing !== undefined || this.endpoints.get(ep.id) !== ep) return
    const controller = new AbortController()
    ep.healthProbe = controller
    const session = this.root.session(ep)
    const timer = setTimeout(() => {
      const reason = new Error(`health check of ${ep.id} timed out after ${hc.timeoutMs} ms`)
      controller.abort(reason)
      // A session that cannot open within a health check's timeout is as good as down.
      session.abortConnect(reason)
    }, hc.timeoutMs)
    timer.unref?.()
    let ok = false
    try {
      const client = session.client ?? await abortable(session.open(), controller.signal)
      await abortable(hc.probe(client, { signal: controller.signal, timeoutMs: hc.timeoutMs }), controller.signal)
      ok = true
    } catch (err) {
      this.logger.debug('health check of %s failed: %s', ep.id, describe(err))
    } finally {
      clearTimeout(timer)
      ep.healthProbe = undefined
    }
    if (this.closing !== undefined || this.endpoints.get(ep.id) !== ep) return
    if (ok) {
      ep.healthFailures = 0
      ep.healthSuccesses++
      if (!ep.healthy && ep.healthSuccesses >= hc.healthyThreshold) {
        ep.healthy = true
        this.emit('endpoint:healthy', { id: ep.id })
      }
    } else {
      ep.healthSuccesses = 0
      ep.healthFailures++
      if (ep.healthy && ep.healthFailures >= hc.unhealthyThreshold) {
        ep.healthy = false
        this.emit('endpoint:unhealthy', { id: ep.id })
      }
    }
    const jitter = 1 + (this.random() * 2 - 1) * C.HEALTH_CHECK_JITTER
    this.scheduleHealthCheck(ep, hc.intervalMs * jitter)
  }

  private stopEndpoint (ep: Endpoint): void {
    if (ep.healthTimer !== undefined) clearTimeout(ep.healthTimer)
    if (ep.ejectionTimer !== undefined) clearTimeout(ep.ejectionTimer)
    ep.healthTimer = undefined
    ep.ejectionTimer = undefined
    ep.healthProbe?.abort(new PoolClosedError())
    for (const d of this.disposables.get(ep.id) ?? []) d.dispose()
    this.disposables.delete(ep.id)
    ep.settleDrain()
  }
}

function callToolOp (params: Params<'callTool'>): Operation<Result<'callTool'>> {
  return {
    method: 'tools/call',
    tool: params.name,
    safe: undefined,
    invoke: (client, options) => client.callTool(params, undefined, options),
  }
}

function subscriptionOp (method: 'resources/subscribe' | 'resources/unsubscribe', uri: string,
  answered?: (endpointId: string) => void): Operation<Record<string, unknown>> {
  return {
    method,
    tool: undefined,
    safe: true,
    subscription: true,
    answered,
    invoke: method === 'resources/subscribe'
      ? async (client, options) => await client.subscribeResource({ uri }, options)
      : async (client, options) => await client.unsubscribeResource({ uri }, options),
  }
}

function checkUri (params: { uri: string }): string {
  const uri = (params as { uri?: unknown } | undefined)?.uri
  if (typeof uri !== 'string' || uri === '') throw new InvalidOptionsError('uri', uri, 'a non-empty resource URI string')
  return uri
}

function flag (option: string, value: unknown): boolean | undefined {
  if (value !== undefined && typeof value !== 'boolean') throw new InvalidOptionsError(option, value, 'true or false')
  return value
}

function readOp<T> (method: string, invoke: (client: Client, options: RequestOptions) => Promise<T>): Operation<T> {
  return { method, tool: undefined, safe: true, invoke }
}

/** Resolves after `ms` (an unref'd timer); rejects with the signal's reason when it aborts first. */
async function sleep (ms: number, signal: AbortSignal | undefined): Promise<void> {
  signal?.throwIfAborted()
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => { clearTimeout(timer); reject(signal?.reason as Error) }
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve() }, ms)
    timer.unref?.()
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

async function abortable<T> (promise: Promise<T>, signal: AbortSignal): Promise<T> {
  signal.throwIfAborted()
  return await new Promise<T>((resolve, reject) => {
    const onAbort = (): void => { reject(signal.reason as Error) }
    signal.addEventListener('abort', onAbort, { once: true })
    promise.finally(() => { signal.removeEventListener('abort', onAbort) }).then(resolve, reject)
  })
}

/** Creates a pool of MCP clients over the given replicas; see {@link ClientPoolInit}. */
export function createClientPool (init: ClientPoolInit = {}): ClientPool {
  return new ClientPool(init)
}
