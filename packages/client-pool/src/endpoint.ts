import { CircuitState } from 'cockatiel'
import { ReplicaBreaker, type BreakerChange } from './breaker.js'
import { SUCCESS_RATE_ALPHA } from './constants.js'
import { BulkheadFullError } from './errors.js'
import { PeakEwma } from './peak-ewma.js'
import type { CallState } from './retry.js'
import type { Session } from './session.js'
import type { BreakerState, EndpointLoad, EndpointSpec, EndpointState } from './types.js'
import type { IBreaker } from 'cockatiel'

/** Resolved per-endpoint policy settings. */
export interface EndpointPolicies {
  breaker: { make: () => IBreaker, halfOpenAfterMs: number } | undefined
  bulkhead: { maxConcurrent: number, maxQueue: number } | undefined
  ewmaDecayMs: number
  ewmaMinSampleWeight: number
  now: () => number
}

/**
 * The pool's state for one replica: load, latency, health, ejection, breaker, bulkhead.
 * Shared by every scope of the pool; sessions are per scope.
 */
export class Endpoint implements EndpointLoad {
  readonly id: string
  readonly weight: number
  readonly labels: Readonly<Record<string, string>>
  readonly spec: EndpointSpec
  inFlight = 0
  healthy = true
  draining = false
  /**
   * A health probe went unanswered for `stallDetection.afterMs` and nothing else came back
   * meanwhile: out of rotation until the replica answers again (docs/decisions/0151).
   */
  stalled = false
  /** When the replica last answered anything (a call, a health probe); `performance.now()` ms. */
  lastAnswerAt = 0
  /** When the health probe now outstanding was sent; 0 when none is. */
  probeSentAt = 0
  /** When the last probe that timed out was sent (the stall detector weighs it); 0 after a probe passes. */
  timedOutProbeAt = 0
  /** Sticky scopes pinned to this endpoint (docs/decisions/0150). */
  pinnedScopes = 0
  /** Attempts sent to the replica and not yet settled (the stall detector abandons them). */
  readonly attempts = new Set<CallState<unknown>>()
  ejected = false
  ejectedUntil = 0
  /** Ejections in a row, which lengthen the next one; decays while the endpoint behaves. */
  ejectionStreak = 0
  lastEjectionAt = 0
  ejections = 0
  consecutiveFailures = 0
  healthSuccesses = 0
  healthFailures = 0
  requests = 0
  failures = 0
  successRate = 1
  readonly breaker: ReplicaBreaker | undefined
  /** A call is testing a half-open breaker; no other call goes here until it ends. */
  probing = false
  /** Calls running (not queued) on the endpoint. */
  running = 0
  private readonly maxRunning: number
  private readonly maxQueue: number
  private readonly queue: Array<{ resolve: () => void, reject: (err: unknown) => void, signal: AbortSignal | undefined, onAbort: () => void }> = []
  readonly sessions = new Set<Session>()
  healthTimer: ReturnType<typeof setTimeout> | undefined
  ejectionTimer: ReturnType<typeof setTimeout> | undefined
  healthProbe: AbortController | undefined
  drainWaiters: Array<() => void> = []
  readonly latencyMs: () => number
  private ewma: PeakEwma
  private readonly now: () => number
  private readonly ewmaDecayMs: number
  private readonly ewmaMinSampleWeight: number

  constructor (spec: EndpointSpec, policies: EndpointPolicies, onBreakerChange: (state: BreakerChange) => void = () => {}) {
    this.id = spec.id
    this.weight = spec.weight ?? 1
    this.labels = spec.labels ?? {}
    this.spec = spec
    this.now = policies.now
    this.ewmaDecayMs = policies.ewmaDecayMs
    this.ewmaMinSampleWeight = policies.ewmaMinSampleWeight
    this.ewma = new PeakEwma(policies.ewmaDecayMs, policies.ewmaMinSampleWeight)
    this.latencyMs = () => this.ewma.value(this.now())
    this.breaker = policies.breaker === undefined
      ? undefined
      : new ReplicaBreaker(policies.breaker.make(), policies.breaker.halfOpenAfterMs, onBreakerChange)
    this.maxRunning = policies.bulkhead?.maxConcurrent ?? Infinity
    this.maxQueue = policies.bulkhead?.maxQueue ?? Infinity
  }

  /** Why no call should go here now, or undefined if one may. `panic` ignores health, stalls and ejection. */
  unavailable (panic: boolean): string | undefined {
    if (this.draining) return 'draining'
    if (!panic) {
      if (this.stalled) return 'stalled (a health check went unanswered and nothing else came back)'
      if (this.ejected) return `ejected after ${this.consecutiveFailures} consecutive failures`
      if (!this.healthy) return `unhealthy (${this.healthFailures} failed health checks)`
    }
    const breaker = this.breaker
    if (breaker !== undefined) {
      const state = breaker.state
      if (state === CircuitState.Open) {
        if (this.probing || breaker.cooling) return 'circuit breaker open'
      } else if (state === CircuitState.HalfOpen) {
        if (this.probing) return 'circuit breaker half-open, a probe call is in flight'
      }
    }
    if (this.running >= this.maxRunning && this.queue.length >= this.maxQueue) return 'bulkhead full'
    return undefined
  }

  /** Takes a running slot if one is free. */
  tryAcquire (): boolean {
    if (this.running >= this.maxRunning) return false
    this.running++
    return true
  }

  /**
   * Takes a running slot: at once when one is free, else after waiting in the queue;
   * throws BulkheadFullError when the queue is full too (the call never left).
   */
  async acquire (signal: AbortSignal | undefined): Promise<void> {
    if (this.tryAcquire()) return
    if (this.queue.length >= this.maxQueue) throw new BulkheadFullError(this.id, this.maxRunning, this.maxQueue)
    signal?.throwIfAborted()
    await new Promise<void>((resolve, reject) => {
      const entry = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const i = this.queue.indexOf(entry)
          if (i >= 0) this.queue.splice(i, 1)
          reject(signal?.reason as Error)
        },
      }
      this.queue.push(entry)
      signal?.addEventListener('abort', entry.onAbort, { once: true })
    })
  }

  /** Gives a running slot back, to the first queued call if any. */
  release (): void {
    const next = this.queue.shift()
    if (next === undefined) {
      this.running--
      return
    }
    next.signal?.removeEventListener('abort', next.onAbort)
    next.resolve()
  }

  /** True when the next call here would test the breaker. */
  breakerTesting (): boolean {
    const state = this.breaker?.state
    return state === CircuitState.Open || state === CircuitState.HalfOpen
  }

  /**
   * The replica is back after being out of rotation (restarted, resumed): its latency and
   * failure streak are of the process it was, so start afresh (a cold replica scores as one).
   */
  resetHistory (): void {
    this.ewma = new PeakEwma(this.ewmaDecayMs, this.ewmaMinSampleWeight)
    this.consecutiveFailures = 0
    this.stalled = false
  }

  recordSuccess (latencyMs: number): void {
    this.requests++
    this.consecutiveFailures = 0
    this.successRate += (1 - this.successRate) * SUCCESS_RATE_ALPHA
    this.ewma.observe(latencyMs, this.now())
  }

  /** Records a replica failure; returns the number of failures in a row. */
  recordFailure (latencyMs: number): number {
    this.requests++
    this.failures++
    this.successRate -= this.successRate * SUCCESS_RATE_ALPHA
    // A fast failure must not make a broken replica look fast (and attract more calls).
    const now = this.now()
    this.ewma.observe(Math.max(latencyMs, 2 * this.ewma.value(now)), now)
    return ++this.consecutiveFailures
  }

  state (): EndpointState {
    if (this.draining) return 'draining'
    if (this.ejected) return 'ejected'
    if (!this.healthy) return 'unhealthy'
    return this.stalled ? 'stalled' : 'healthy'
  }

  breakerState (): BreakerState {
    if (this.breaker === undefined) return 'disabled'
    switch (this.breaker.state) {
      case CircuitState.Closed: return 'closed'
      case CircuitState.Open: return 'open'
      default: return 'half-open'
    }
  }

  openSessions (): number {
    let n = 0
    for (const s of this.sessions) if (s.client !== undefined) n++
    return n
  }

  settleDrain (): void {
    if (this.inFlight !== 0 || this.drainWaiters.length === 0) return
    const waiters = this.drainWaiters
    this.drainWaiters = []
    for (const w of waiters) w()
  }
}
