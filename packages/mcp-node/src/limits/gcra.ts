/**
 * The generic cell rate algorithm (a token bucket kept as one number): `tat` is the theoretical
 * arrival time of the next request. A request at `now` is admitted when `tat - now` is at most
 * the burst tolerance `(burst - 1) * interval`; it then moves `tat` one interval later. Exact,
 * O(1), no timer. The interval may change between requests (a mesh-wide limit's share does).
 */
export class Gcra {
  private tat = 0

  /**
   * Ms to wait before a request at `now` would be admitted (0: admit now). `intervalMs` is
   * 60 000 / requests per minute; `burst` ≥ 1.
   */
  wait (now: number, intervalMs: number, burst: number): number {
    const tat = Math.max(this.tat, now)
    const over = tat - now - intervalMs * (burst - 1)
    return over > 0 ? Math.ceil(over) : 0
  }

  /** Admits a request at `now` (call after `wait()` said 0). */
  take (now: number, intervalMs: number): void {
    this.tat = Math.max(this.tat, now) + intervalMs
  }

  /** True when the state holds no debt at `now` (it can be forgotten without giving a burst away). */
  idle (now: number): boolean {
    return this.tat <= now
  }
}
