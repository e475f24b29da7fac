import type { NodeMetrics } from './metrics.js'

/**
 * Counts the calls this peer routes: in flight (for the load it announces and for a graceful
 * stop), an EWMA of their latency, which replica served how many calls of each tool, and the
 * Prometheus counters.
 */
export class CallAccounting {
  private inFlightCalls = 0
  private ewmaMs = 0
  private readonly servedBy = new Map<string, Map<string, number>>()
  private idleWaiters: Array<() => void> = []
  private readonly metrics: NodeMetrics

  constructor (metrics: NodeMetrics) {
    this.metrics = metrics
  }

  get inFlight (): number { return this.inFlightCalls }

  /** The load this peer announces in its descriptor. */
  load (): { inFlight: number, ewmaLatencyMs: number } {
    return { inFlight: this.inFlightCalls, ewmaLatencyMs: Math.round(this.ewmaMs * 1000) / 1000 }
  }

  /** How many calls of `tool` each peer served (as seen from here). */
  served (tool: string): Record<string, number> {
    return Object.fromEntries(this.servedBy.get(tool) ?? [])
  }

  started (): void {
    this.inFlightCalls++
  }

  finished (tool: string, peer: string, outcome: string, seconds: number): void {
    this.inFlightCalls--
    this.ewmaMs = this.ewmaMs === 0 ? seconds * 1000 : this.ewmaMs * 0.9 + seconds * 100
    this.metrics.record(tool, peer, outcome, seconds)
    let byPeer = this.servedBy.get(tool)
    if (byPeer === undefined) this.servedBy.set(tool, byPeer = new Map<string, number>())
    byPeer.set(peer, (byPeer.get(peer) ?? 0) + 1)
    if (this.inFlightCalls === 0 && this.idleWaiters.length > 0) {
      const w = this.idleWaiters
      this.idleWaiters = []
      for (const f of w) f()
    }
  }

  /** Resolves when no call is in flight, or after `graceMs`. */
  async idle (graceMs: number): Promise<void> {
    if (this.inFlightCalls === 0) return
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, graceMs)
      timer.unref()
      this.idleWaiters.push(() => { clearTimeout(timer); resolve() })
    })
  }
}
