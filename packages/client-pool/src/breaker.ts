import { CircuitState } from 'cockatiel'
import type { IBreaker } from 'cockatiel'

/** A breaker state change, as the pool's `breaker` event reports it. */
export type BreakerChange = 'open' | 'half-open' | 'closed'

/**
 * One replica's circuit breaker, driven by the pool's own outcome accounting rather than by
 * wrapping each call (docs/decisions/0080). The decision to open stays with a cockatiel
 * `IBreaker` strategy (CountBreaker by default, or the one configured), told of every
 * outcome; this class only keeps the state: closed → open when the strategy says so → after
 * `halfOpenAfterMs` one probe call → closed when it succeeds, open again when it fails.
 */
export class ReplicaBreaker {
  private value: CircuitState = CircuitState.Closed
  private openedAt = 0
  private readonly strategy: IBreaker
  private readonly halfOpenAfterMs: number
  private readonly onChange: (state: BreakerChange) => void

  constructor (strategy: IBreaker, halfOpenAfterMs: number, onChange: (state: BreakerChange) => void) {
    this.strategy = strategy
    this.halfOpenAfterMs = halfOpenAfterMs
    this.onChange = onChange
  }

  get state (): CircuitState { return this.value }

  /** True while open and still within `halfOpenAfterMs` (no probe is due). */
  get cooling (): boolean {
    return this.value === CircuitState.Open && Date.now() - this.openedAt < this.halfOpenAfterMs
  }

  /**
   * Lets a call through, or not: closed lets every call through; open lets the first call
   * after `halfOpenAfterMs` through as the probe (half-open); half-open lets none through
   * while the probe runs.
   */
  admit (): boolean {
    if (this.value === CircuitState.Closed) return true
    if (this.value === CircuitState.HalfOpen || this.cooling) return false
    this.value = CircuitState.HalfOpen
    this.onChange('half-open')
    return true
  }

  /**
   * The replica answered a health check after being down: an open breaker stops cooling and
   * lets the next call through as its probe (docs/decisions/0150).
   */
  probeNow (): void {
    if (this.value === CircuitState.Open) this.openedAt = -Infinity
  }

  /** The replica answered. */
  success (): void {
    if (this.value === CircuitState.HalfOpen) {
      this.strategy.success(CircuitState.HalfOpen)
      this.value = CircuitState.Closed
      this.onChange('closed')
    } else if (this.value === CircuitState.Closed) {
      this.strategy.success(CircuitState.Closed)
    }
  }

  /** The replica failed (an outcome `isReplicaFailure` holds against it). */
  failure (): void {
    if (this.value === CircuitState.HalfOpen) {
      this.strategy.failure(CircuitState.HalfOpen)
      this.open()
    } else if (this.value === CircuitState.Closed && this.strategy.failure(CircuitState.Closed)) {
      this.open()
    }
  }

  /** The call ended with an error not held against the replica: a probe that got an answer closes the breaker. */
  neutral (): void {
    if (this.value === CircuitState.HalfOpen) this.success()
  }

  private open (): void {
    this.value = CircuitState.Open
    this.openedAt = Date.now()
    this.onChange('open')
  }
}
