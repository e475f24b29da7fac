import { BUDGET_BUCKETS } from './constants.js'

/**
 * Caps retries to a share of recent calls (Finagle's RetryBudget, Envoy's retry_budget):
 * a retry is allowed while the retries of the last window, this one included, stay
 * within `percent`% of the calls of that window plus `minPerSecond` per second. Counts
 * live in buckets that rotate with time, so an outage that ended a window ago no longer
 * weighs on the budget.
 */
export class RetryBudget {
  private readonly calls = new Float64Array(BUDGET_BUCKETS)
  private readonly retries = new Float64Array(BUDGET_BUCKETS)
  private readonly bucketMs: number
  private readonly ratio: number
  private readonly reserve: number
  private readonly now: () => number
  private bucket = 0
  private bucketStart: number
  private callSum = 0
  private retrySum = 0

  constructor (percent: number, minPerSecond: number, windowMs: number, now: () => number) {
    this.bucketMs = windowMs / BUDGET_BUCKETS
    this.ratio = percent / 100
    this.reserve = minPerSecond * windowMs / 1000
    this.now = now
    this.bucketStart = now()
  }

  /** Counts a call (not a retry). */
  recordCall (): void {
    this.rotate()
    this.calls[this.bucket]!++
    this.callSum++
  }

  /** Takes one retry out of the budget; false (and nothing taken) when it is spent. */
  tryWithdraw (): boolean {
    this.rotate()
    if (this.retrySum + 1 > this.callSum * this.ratio + this.reserve) return false
    this.retries[this.bucket]!++
    this.retrySum++
    return true
  }

  private rotate (): void {
    const now = this.now()
    if (now - this.bucketStart < this.bucketMs) return
    let steps = Math.floor((now - this.bucketStart) / this.bucketMs)
    this.bucketStart += steps * this.bucketMs
    if (steps > BUDGET_BUCKETS) steps = BUDGET_BUCKETS
    for (let i = 0; i < steps; i++) {
      this.bucket = (this.bucket + 1) % BUDGET_BUCKETS
      this.callSum -= this.calls[this.bucket]!
      this.retrySum -= this.retries[this.bucket]!
      this.calls[this.bucket] = 0
      this.retries[this.bucket] = 0
    }
  }
}
