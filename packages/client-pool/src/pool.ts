import { BrokenCircuitError, ExponentialBackoff } from 'cockatiel'
import { TypedEventEmitter } from 'main-event'
import { callApi } from './call-api.js'
import type { ClientPoolScope, ClientPoolView, Operation } from './call-api.js'
import { classify, isReplicaFailure } from './classify.js'
import { ejectOutlier } from './ejection.js'
import { Endpoint } from './endpoint.js'
import type { EndpointPolicies } from './endpoint.js'
import { DuplicateEndpointError, InvalidParametersError, NoEndpointAvailableError, PoolClosedError, ReplicaStalledError, UnknownEndpointError } from './errors.js'
import { HealthChecks } from './health-check.js'
import { HedgeLostError, Hedger } from './hedge.js'
import { flag, positive, resolveOptions } from './options.js'
import type { OutlierSettings } from './options.js'
import { AttemptFailure, Retrier } from './retry.js'
import type { CallState } from './retry.js'
import { ScopeCore } from './scope.js'
import type { PoolHooks } from './scope.js'
import type { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StallClock } from './stall-clock.js'
import { StallDetector } from './stall-detector.js'
import { Subscriptions } from './subscriptions.js'
import { ToolCatalog } from './tool-catalog.js'
import type { CallOptions, ClientPoolEvents, ClientPoolInit, Emit, EndpointSpec, Logger, Picker, PoolStats, ScopeInit } from './types.js'

const noop = (): void => {}

function labelsMatch (labels: Readonly<Record<string, string>>, required: Readonly<Record<string, string>> | undefined): boolean {
  if (required === undefined) return true
  for (const k in required) if (labels[k] !== required[k]) return false
  return true
}

/**
 * A pool of MCP clients over the replicas of one server. Create it with
 * `createClientPool()`. Its own call API is the root scope's: the same view every
 * `scope()` gets (see `call-api.ts`).
 */
export class ClientPool extends TypedEventEmitter<ClientPoolEvents> implements ClientPoolView {
  declare readonly callTool: ClientPoolView['callTool']
  declare readonly listTools: ClientPoolView['listTools']
  declare readonly listResources: ClientPoolView['listResources']
  declare readonly listResourceTemplates: ClientPoolView['listResourceTemplates']
  declare readonly readResource: ClientPoolView['readResource']
  declare readonly listPrompts: ClientPoolView['listPrompts']
  declare readonly getPrompt: ClientPoolView['getPrompt']
  declare readonly complete: ClientPoolView['complete']
  private readonly hooks: PoolHooks
  private readonly logger: Logger
  private readonly stalls: StallClock | undefined
  private readonly endpoints = new Map<string, Endpoint>()
  private list: Endpoint[] = []
  private readonly candidates: Endpoint[] = []
  private readonly picker: Picker
  private readonly pickContext: { key: string | undefined, random: () => number }
  private readonly policies: EndpointPolicies
  private readonly health: HealthChecks | undefined
  private readonly outlier: OutlierSettings | undefined
  private readonly stallDetector: StallDetector | undefined
  private readonly hedger: Hedger | undefined
  /** Bumped whenever a replica (re)joins rotation; sticky scopes pinned before may rebalance. */
  private rotation = 0
  private rebalanced = 0
  private readonly retrier: Retrier
  private readonly requestTimeoutMs: number
  private readonly toolTimeoutsMs: Readonly<Record<string, number>>
  private readonly extendTimeoutOnProgress: boolean
  private readonly catalog: ToolCatalog
  private readonly subscriptions: Subscriptions
  private readonly root: ScopeCore
  private readonly scopes = new Set<ScopeCore>()
  private calls = 0
  private activeCalls = 0
  private closeWaiters: Array<() => void> = []
  private closing: Promise<void> | undefined
  private readonly neverAborted = new AbortController().signal
  private readonly emit: Emit = (type, detail) => { this.safeDispatchEvent(type, { detail }) }
  /** An endpoint's ejection ran out: if it can take calls, sticky scopes may rebalance. */
  private readonly returned = (ep: Endpoint): void => { if (ep.unavailable(false) === undefined) this.rotation++ }

  constructor (init: ClientPoolInit = {}) {
    super()
    const o = resolveOptions(init)
    this.logger = o.logger
    this.pickContext = { key: undefined, random: o.random }
    this.picker = o.picker
    this.outlier = o.outlier
    this.policies = o.policies
    this.requestTimeoutMs = o.requestTimeoutMs
    this.toolTimeoutsMs = o.toolTimeoutsMs
    this.extendTimeoutOnProgress = o.extendTimeoutOnProgress
    this.catalog = new ToolCatalog(o.toolAnnotations)
    this.retrier = new Retrier(o.retry, this.catalog, this.emit)
    this.hooks = {
      clientInfo: o.clientInfo,
      reconnect: o.reconnect,
      logger: this.logger,
      opened: (session, client) => {
        if (!this.catalog.loaded) this.catalog.refresh(client, this.requestTimeoutMs, this.logger)
        this.emit('session:open', { id: session.endpointId })
      },
      closed: (session, error) => { this.emit('session:closed', { id: session.endpointId, error }) },
      toolsChanged: (client: Client) => { this.catalog.refresh(client, this.requestTimeoutMs, this.logger) },
      subscriptionsLost: (scope) => { this.subscriptions.queueMove(scope, 'session-lost') },
    }
    this.subscriptions = new Subscriptions({
      run: async (scope, op, options, avoid) => await this.run(scope, op, options, avoid),
      endpoint: (id) => this.endpoints.get(id),
      closing: () => this.closing !== undefined,
      logger: this.logger,
      emit: this.emit,
      requestTimeoutMs: this.requestTimeoutMs,
      moveBackoff: new ExponentialBackoff({ initialDelay: o.reconnect.initialDelayMs, maxDelay: o.reconnect.maxDelayMs }),
    })
    if (o.stallCheckIntervalMs > 0) {
      this.stalls = new StallClock(o.stallCheckIntervalMs, () => performance.now())
      this.stalls.start()
    }
    this.root = new ScopeCore(this.hooks, {}, false)
    this.scopes.add(this.root)
    this.health = o.health === undefined
      ? undefined
      : new HealthChecks(o.health, {
        current: (ep) => this.closing === undefined && this.endpoints.get(ep.id) === ep,
        session: (ep) => this.root.session(ep),
        random: o.random,
        logger: this.logger,
        emit: this.emit,
        recovered: (ep) => { this.recovered(ep) },
      })
    const health = this.health
    this.stallDetector = o.stall === undefined || health === undefined
      ? undefined
      : new StallDetector(o.stall, o.health!.timeoutMs, {
        endpoints: () => this.list,
        probe: (ep) => { health.checkNow(ep) },
        safe: async (call) => await this.retrier.safe(call),
        alternative: (ep) => this.list.some((e) => e !== ep && e.unavailable(false) === undefined),
        ownStall: (from, to) => this.stalls?.stalled(from, to) ?? 0,
        emit: this.emit,
      })
    this.stallDetector?.start()
    const retrier = this.retrier
    this.hedger = o.hedgeDelayMs === undefined
      ? undefined
      : new Hedger(o.hedgeDelayMs, {
        run: async (scope, op, options, avoid, extra) => await this.run(scope, op, options, avoid, extra),
        safe: async (op, options) => await retrier.safeOp(op, options),
        withdraw: () => retrier.withdraw(),
      })
    const root = this.root
    // The root scope's call API is the same view a scope gets.
    Object.assign(this, callApi((op, options) => this.place(root, op, options)))
    for (const spec of init.endpoints ?? []) this.add(spec)
  }

  // ---------------------------------------------------------------------------------------
  // Registry

  /** Adds a replica; it takes calls at once and is health-checked from now on. */
  add (spec: EndpointSpec): void {
    if (this.closing !== undefined) throw new PoolClosedError()
    if (typeof spec !== 'object' || spec === null) throw new InvalidParametersError('endpoint', spec, 'an object { id, connect }')
    if (typeof spec.id !== 'string' || spec.id === '') throw new InvalidParametersError('endpoint.id', spec.id, 'a non-empty string')
    if (typeof spec.connect !== 'function') throw new InvalidParametersError(`endpoint ${spec.id} connect`, spec.connect, 'a function returning an MCP Transport')
    positive(`endpoint ${spec.id} weight`, spec.weight, 1)
    if (spec.labels !== undefined && (typeof spec.labels !== 'object' || spec.labels === null)) {
      throw new InvalidParametersError(`endpoint ${spec.id} labels`, spec.labels, 'an object of strings')
    }
    if (this.endpoints.has(spec.id)) throw new DuplicateEndpointError(spec.id)
    const ep = new Endpoint(spec, this.policies, (state) => { this.emit('breaker', { id: spec.id, state }) })
    this.endpoints.set(spec.id, ep)
    this.list = [...this.endpoints.values()]
    this.picker.update?.(this.list)
    this.emit('endpoint:added', { id: ep.id })
    this.rotation++
    this.health?.schedule(ep, 0)
  }

  /** Stops sending new calls to an endpoint and resolves once its calls in flight have ended. */
  async drain (id: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    const ep = this.get(id)
    if (!ep.draining) {
      ep.draining = true
      for (const scope of this.scopes) {
        if (scope.stickyId === id) scope.pinTo(undefined)
        if (scope.subsEndpoint === id && scope.subscriptions.size > 0) this.subscriptions.queueMove(scope, 'draining')
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

  /**
   * Health-checks an endpoint now if it is out of rotation (unhealthy, ejected, stalled or its
   * breaker open), so that a replica known to be back (it announced itself again after a
   * restart) returns to rotation as soon as it answers instead of at its next probe or the end
   * of its ejection. Returns whether a probe started.
   */
  recheck (id: string): boolean {
    const ep = this.get(id)
    if (this.health === undefined || this.closing !== undefined) return false
    if (ep.healthy && !ep.ejected && !ep.stalled && !ep.breakerTesting()) return false
    return this.health.checkNow(ep)
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
      calls: this.calls,
      retries: this.retrier.retries,
      budgetExhausted: this.retrier.budgetExhausted,
      rebalanced: this.rebalanced,
      abandoned: this.stallDetector?.abandoned ?? 0,
      hedges: this.hedger?.hedges ?? 0,
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
    if (h.sampling !== undefined && caps.sampling === undefined) throw new InvalidParametersError('scope handlers.sampling', 'set', 'capabilities.sampling declared too')
    if (h.elicitation !== undefined && caps.elicitation === undefined) throw new InvalidParametersError('scope handlers.elicitation', 'set', 'capabilities.elicitation declared too')
    if (h.roots !== undefined && caps.roots === undefined) throw new InvalidParametersError('scope handlers.roots', 'set', 'capabilities.roots declared too')
    flag('scope extendTimeoutOnProgress', init.extendTimeoutOnProgress)
    flag('scope rebalance', init.rebalance)
    const core = new ScopeCore(this.hooks, init, init.sticky ?? true)
    this.scopes.add(core)
    const api = callApi((op, options) => this.place(core, op, options))
    const subscriptions = this.subscriptions
    const close = async (): Promise<void> => {
      if (core.closed || !this.scopes.has(core)) return
      this.scopes.delete(core)
      await subscriptions.unsubscribeAll(core)
      await core.close(this.list)
    }
    return {
      ...api,
      get endpoint () { return core.stickyId },
      subscribeResource: async (params, options) => await subscriptions.subscribe(core, params, options),
      unsubscribeResource: async (params, options) => await subscriptions.unsubscribe(core, params, options),
      get subscriptions () { return { uris: [...core.subscriptions], endpoint: core.subscriptions.size === 0 ? undefined : core.subsEndpoint } },
      close,
    }
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
      this.stallDetector?.stop()
      await Promise.all([...this.scopes].map(async (s) => { await s.close(this.list) }))
    })()
    await this.closing
  }

  // ---------------------------------------------------------------------------------------
  // The call path

  /** A call of the API: hedged when hedging is on and the call is not for one endpoint (docs/decisions/0152). */
  private place<T> (scope: ScopeCore, op: Operation<T>, options: CallOptions | undefined): Promise<T> {
    if (this.hedger === undefined || options?.endpoint !== undefined || op.subscription === true) return this.run(scope, op, options)
    return this.hedger.call(scope, op, options)
  }

  private async run<T> (scope: ScopeCore, op: Operation<T>, options: CallOptions | undefined, avoid?: Endpoint,
    extra?: { hedge: boolean, track: { current: Endpoint | undefined } | undefined }): Promise<T> {
    if (this.closing !== undefined) throw new PoolClosedError()
    if (scope.closed) throw new PoolClosedError('pool scope')
    const signal = options?.signal
    signal?.throwIfAborted()
    const hedge = extra?.hedge === true
    if (!hedge) {
      this.calls++
      this.retrier.recordCall()
    }
    this.activeCalls++
    scope.inFlight++
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
      attemptAbort: undefined,
      abandoning: false,
      hedge,
      track: extra?.track,
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
          if (!(err instanceof AttemptFailure) || !this.retrier.mayRetry(err)) throw this.retrier.finalError(call, err)
          await this.retrier.pause(call, err)
        }
      }
    } finally {
      scope.inFlight--
      if (--this.activeCalls === 0 && this.closeWaiters.length > 0) {
        const waiters = this.closeWaiters
        this.closeWaiters = []
        for (const w of waiters) w()
      }
    }
  }

  private async attempt<T> (call: CallState<T>): Promise<T> {
    const ep = this.choose(call)
    if (call.track !== undefined) call.track.current = ep
    call.attempts++
    call.tried.push(ep)
    call.current = ep.id
    call.options?.onAttempt?.(ep.id)
    const probe = ep.breakerTesting()
    if (probe) ep.probing = true
    ep.inFlight++
    call.sentAt = 0
    call.abandoning = false
    const signal = call.request.signal
    // With stall detection, each attempt has its own abort, so that the detector can abandon
    // it on a stalled replica without aborting the call (docs/decisions/0151).
    let request = call.request
    let onCallerAbort: (() => void) | undefined
    if (this.stallDetector !== undefined) {
      const controller = new AbortController()
      call.attemptAbort = controller
      request = { ...call.request, signal: controller.signal }
      if (signal !== undefined) {
        onCallerAbort = () => { controller.abort(signal.reason) }
        if (signal.aborted) onCallerAbort()
        else signal.addEventListener('abort', onCallerAbort, { once: true })
      }
      ep.attempts.add(call)
    }
    let acquired = false
    const breaker = ep.breaker
    let admitted = false
    try {
      if (!ep.tryAcquire()) await ep.acquire(signal)
      acquired = true
      // The breaker hears of this call's outcome below, from the same accounting as ejection
      // (decision 0080); a replica that cannot be reached counts as failing.
      if (breaker !== undefined && !breaker.admit()) throw new BrokenCircuitError()
      admitted = true
      const client = call.scope.session(ep).client
      // The fast path (session open) sends at once.
      const result = await (client === undefined ? this.openAndSend(ep, call, request) : this.send(client, call, request))
      breaker?.success()
      ep.recordSuccess(this.latency(call.sentAt))
      ep.lastAnswerAt = performance.now()
      call.op.answered?.(ep.id)
      const scope = call.scope
      // The scope moved to another replica: its subscriptions follow (docs/decisions/0036).
      if (scope.subsEndpoint !== undefined && scope.stickyId === ep.id && scope.subsEndpoint !== ep.id &&
        call.op.subscription !== true && scope.subscriptions.size > 0) this.subscriptions.queueMove(scope, 'moved')
      return result
    } catch (thrown) {
      // The SDK wraps an abort's reason in an McpError: the stall detector's is the cause.
      const abandoned: unknown = call.attemptAbort?.signal.aborted === true && signal?.aborted !== true ? call.attemptAbort.signal.reason : undefined
      const err = abandoned instanceof ReplicaStalledError ? abandoned : thrown
      if (admitted && breaker !== undefined) {
        // As with cockatiel's policy: a replica failure (or a call cut off meanwhile) counts against it.
        // The losing copy of a hedged call was cancelled by the pool: not the replica's fault.
        if (signal?.aborted === true ? !(signal.reason instanceof HedgeLostError) : isReplicaFailure(err)) breaker.failure()
        else breaker.neutral()
      }
      if (signal?.aborted === true) throw signal.reason
      const kind = classify(err)
      // Latency counts from the send; connecting or waiting in the bulkhead is not the replica's answer time.
      const elapsed = call.sentAt === 0 ? 0 : this.latency(call.sentAt)
      if (kind === 'caller') {
        // The replica answered; the request was at fault.
        ep.recordSuccess(elapsed)
        ep.lastAnswerAt = performance.now()
        throw err
      }
      if (kind !== 'refused') {
        const failures = ep.recordFailure(elapsed)
        if (this.outlier !== undefined && failures >= this.outlier.consecutiveFailures) ejectOutlier(ep, this.list, this.outlier, this.emit, this.returned)
      }
      call.lastError = err
      const retryable = kind === 'refused' || kind === 'unreachable' || await this.retrier.safe(call)
      throw new AttemptFailure(err, ep.id, kind, retryable, call)
    } finally {
      if (call.attemptAbort !== undefined) {
        ep.attempts.delete(call)
        call.attemptAbort = undefined
        if (onCallerAbort !== undefined) signal?.removeEventListener('abort', onCallerAbort)
      }
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
  private send<T> (client: Client, call: CallState<T>, request: CallState<T>['request']): Promise<T> {
    call.sentAt = performance.now()
    return call.op.invoke(client, request)
  }

  private async openAndSend<T> (ep: Endpoint, call: CallState<T>, request: CallState<T>['request']): Promise<T> {
    const client = await call.scope.session(ep).open()
    return await this.send(client, call, request)
  }

  /**
   * A health check found `ep` back after it was down (docs/decisions/0150): it returns to
   * rotation now: its ejection ends (unless configured otherwise), an open breaker lets the
   * next call through as its probe, sessions reopen without waiting out their backoff, its
   * latency history (of the process it was) is dropped, and sticky scopes may rebalance.
   */
  private recovered (ep: Endpoint): void {
    if (ep.ejected && this.outlier?.unejectOnHealthCheck === true) {
      if (ep.ejectionTimer !== undefined) clearTimeout(ep.ejectionTimer)
      ep.ejectionTimer = undefined
      ep.ejected = false
      this.emit('endpoint:restored', { id: ep.id, reason: 'health-check' })
    }
    ep.breaker?.probeNow()
    for (const session of ep.sessions) session.resetBackoff()
    ep.resetHistory()
    this.returned(ep)
  }

  /** Picks the endpoint of the next attempt, or throws NoEndpointAvailableError. */
  private choose (call: CallState<unknown>): Endpoint {
    const { scope, options, tried } = call
    const pinned = options?.endpoint
    const required = options?.require
    if (pinned !== undefined && !this.endpoints.has(pinned)) throw new UnknownEndpointError(pinned, this.ids())
    if (scope.sticky && scope.stickyId !== undefined && pinned === undefined) {
      const ep = this.endpoints.get(scope.stickyId)
      if (ep !== undefined && !tried.includes(ep) && labelsMatch(ep.labels, required) && ep.unavailable(false) === undefined &&
        scope.sessions.get(ep.id)?.backingOff() !== true) {
        // A replica (re)joined rotation since the scope was pinned: move once if nothing ties
        // the scope to its replica and it evens out the scopes (docs/decisions/0150).
        if (scope.pinnedAt !== this.rotation && scope.rebalance && tried.length === 0 && scope.inFlight === 1 &&
          scope.subscriptions.size === 0 && !scope.movePending) {
          const to = this.fewerScopes(ep, required)
          // Decided (moved, or already even): not again until the next return. Undecided (an
          // endpoint is out for now, e.g. its breaker's probe call is in flight): next call.
          if (to !== false) scope.pinnedAt = this.rotation
          if (to !== undefined && to !== false) {
            scope.pinTo(to)
            this.rebalanced++
            return to
          }
        }
        return ep
      }
    }
    return this.pick(call)
  }

  /**
   * The eligible endpoint with the fewest sticky scopes per unit of weight, if a scope moving
   * there from `from` leaves the two more even; else undefined, or false when an endpoint is
   * held back only by its breaker's probe call in flight (a replica just back), so the
   * answer may change at the next call.
   */
  private fewerScopes (from: Endpoint, required: Readonly<Record<string, string>> | undefined): Endpoint | undefined | false {
    let best: Endpoint | undefined
    let least = Infinity
    let undecided = false
    for (const ep of this.list) {
      if (ep === from || !labelsMatch(ep.labels, required)) continue
      if (ep.unavailable(false) !== undefined) {
        if (ep.probing) undecided = true
        continue
      }
      const load = ep.pinnedScopes / ep.weight
      if (load < least) { least = load; best = ep }
    }
    if (best !== undefined && (best.pinnedScopes + 1) / best.weight < from.pinnedScopes / from.weight) return best
    return undecided ? false : undefined
  }

  /** The balancer's choice for the next attempt, or NoEndpointAvailableError. */
  private pick (call: CallState<unknown>): Endpoint {
    const { scope, options, tried } = call
    const pinned = options?.endpoint
    const required = options?.require
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
        // The scope's session there dropped and waits out its reconnect backoff: a call sent
        // there would fail without leaving; another endpoint first (docs/decisions/0150).
        if (!panic && scope.sessions.get(ep.id)?.backingOff() === true) continue
        candidates.push(ep)
      }
      if (candidates.length === 0) continue
      this.pickContext.key = options?.key
      const picked = this.picker.pick(candidates, this.pickContext)
      candidates.length = 0
      if (picked !== undefined) {
        const ep = this.endpoints.get(picked.id)
        if (ep === undefined) throw new TypeError(`the picker returned ${picked.id}, which is not one of the candidates`)
        if (scope.sticky && pinned === undefined && !call.hedge) {
          scope.pinTo(ep)
          scope.pinnedAt = this.rotation
        }
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

  private stopEndpoint (ep: Endpoint): void {
    if (ep.healthTimer !== undefined) clearTimeout(ep.healthTimer)
    if (ep.ejectionTimer !== undefined) clearTimeout(ep.ejectionTimer)
    ep.healthTimer = undefined
    ep.ejectionTimer = undefined
    ep.healthProbe?.abort(new PoolClosedError())
    ep.settleDrain()
  }
}

/** Creates a pool of MCP clients over the given replicas; see {@link ClientPoolInit}. */
export function createClientPool (init: ClientPoolInit = {}): ClientPool {
  return new ClientPool(init)
}
