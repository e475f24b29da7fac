/**
 * Tells how much of a time span the caller's own event loop was stalled (a GC pause, a
 * busy or descheduled core): a timer that should tick every `intervalMs` and ticks late
 * marks the gap as a stall. A reply that arrives during a stall waits for the loop, so
 * that time is the caller's, not the replica's, and is taken out of latency samples
 * (docs/decisions/0035).
 */
export class StallClock {
  private readonly starts: Float64Array
  private readonly ends: Float64Array
  private next = 0
  private count = 0
  private last = 0
  private timer: ReturnType<typeof setInterval> | undefined
  private readonly intervalMs: number
  private readonly now: () => number

  constructor (intervalMs: number, now: () => number, capacity = 64) {
    this.intervalMs = intervalMs
    this.now = now
    this.starts = new Float64Array(capacity)
    this.ends = new Float64Array(capacity)
  }

  start (): void {
    if (this.timer !== undefined) return
    this.last = this.now()
    this.timer = setInterval(() => { this.tick() }, this.intervalMs)
    this.timer.unref?.()
  }

  stop (): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
  }

  /** Records a tick at `t` (the timer calls it; tests call it directly). */
  tick (t = this.now()): void {
    const due = this.last + this.intervalMs
    // Half an interval of slack: timers are never exact.
    if (t - due > this.intervalMs / 2) {
      this.starts[this.next] = due
      this.ends[this.next] = t
      this.next = (this.next + 1) % this.starts.length
      if (this.count < this.starts.length) this.count++
    }
    this.last = t
  }

  /** Milliseconds of [from, to] that fell in recorded stalls. */
  stalled (from: number, to: number): number {
    let total = 0
    // A stall still going on: the timer is overdue and has not run yet (the reply being
    // handled now may have been queued ahead of it when the loop woke up).
    const due = this.last + this.intervalMs
    if (this.timer !== undefined && to - due > this.intervalMs / 2) {
      const overlap = to - Math.max(due, from)
      if (overlap > 0) total += overlap
    }
    const cap = this.starts.length
    for (let i = 1; i <= this.count; i++) {
      const k = (this.next - i + cap) % cap
      const end = this.ends[k]!
      if (end <= from) break // stalls are recorded in order; older ones end earlier still
      const start = this.starts[k]!
      const overlap = Math.min(end, to) - Math.max(start, from)
      if (overlap > 0) total += overlap
    }
    return total
  }
}
