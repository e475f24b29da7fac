/**
 * Peak-sensitive exponentially weighted moving average of latency (Finagle's Peak-EWMA).
 * A sample above the current value replaces it at once, so a replica that turns slow is
 * avoided from its first slow answer; lower samples pull the value down with a weight
 * that depends on the time since the previous sample, and the value decays towards zero
 * while no samples arrive, so that a shunned replica is tried again eventually.
 */
export class PeakEwma {
  private cost = 0
  private stamp = 0
  private readonly decayMs: number
  private readonly keep: number

  /**
   * @param decayMs - time constant of the decay
   * @param minSampleWeight - least weight of a sample below the estimate, however close in
   *   time to the previous one (0: time-only decay, as in Finagle)
   */
  constructor (decayMs: number, minSampleWeight = 0) {
    this.decayMs = decayMs
    this.keep = 1 - minSampleWeight
  }

  /** Records a latency sample (ms) taken at `now` (ms, monotonic). */
  observe (sampleMs: number, now: number): void {
    if (sampleMs > this.cost) {
      this.cost = sampleMs
    } else {
      const w = Math.min(Math.exp(-Math.max(now - this.stamp, 0) / this.decayMs), this.keep)
      this.cost = this.cost * w + sampleMs * (1 - w)
    }
    this.stamp = now
  }

  /** The estimate at `now`, decayed since the last sample. */
  value (now: number): number {
    if (this.cost === 0) return 0
    return this.cost * Math.exp(-Math.max(now - this.stamp, 0) / this.decayMs)
  }
}
