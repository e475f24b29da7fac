import type { NodeComponents } from '../module.js'
import type { EventInput } from './event-format.js'

type Publish = (input: EventInput) => Promise<void>

/**
 * The mesh's own events, each published by the peer that observed it (no event is announced
 * by every peer):
 * - `mesh.peer.joined` / `mesh.peer.left`: this peer started / stopped gracefully;
 * - `mesh.server.changed`: a server hosted here went up or down or changed its tools;
 * - `mesh.replica.ejected` / `mesh.replica.restored`, `mesh.breaker.opened` / `.closed` /
 *   `.half_open`: what this peer's client pools decided about a replica;
 * - `mesh.calls.summary`: calls served through this peer per tool over the last interval
 *   (aggregated, not one event per call: calls are far more frequent than anyone reads events).
 */
export class MeshProducers {
  readonly #c: NodeComponents
  readonly #publish: Publish
  readonly #pools = new WeakSet<object>()
  readonly #upstreams = new WeakSet<object>()
  readonly #served = new Map<string, number>()
  #scan: ReturnType<typeof setInterval> | undefined
  #summary: ReturnType<typeof setInterval> | undefined

  constructor (c: NodeComponents, publish: Publish) {
    this.#c = c
    this.#publish = publish
  }

  start (callSummaryIntervalMs: number): void {
    const c = this.#c
    void this.#publish({ event_type: 'mesh.peer.joined', event_data: { peerId: c.peerId, multiaddrs: c.multiaddrs(), servers: [...c.hosted()].map((u) => u.name) } })
    this.#attach()
    this.#scan = setInterval(() => { this.#attach() }, 1000)
    this.#scan.unref()
    if (callSummaryIntervalMs > 0) {
      this.#summary = setInterval(() => { this.#summarise(callSummaryIntervalMs) }, callSummaryIntervalMs)
      this.#summary.unref()
    }
  }

  async stop (): Promise<void> {
    clearInterval(this.#scan)
    clearInterval(this.#summary)
    await this.#publish({ event_type: 'mesh.peer.left', event_data: { peerId: this.#c.peerId, reason: 'shutdown' } })
  }

  /** Hooks the events of upstreams and pools that appeared since the last scan. */
  #attach (): void {
    for (const u of this.#c.hosted()) {
      if (this.#upstreams.has(u)) continue
      this.#upstreams.add(u)
      u.addEventListener('changed', () => {
        void this.#publish({ event_type: 'mesh.server.changed', event_data: { server: u.name, status: u.status, tools: u.tools.map((t) => t.name) } })
      })
    }
    for (const [server, pool] of this.#c.router.allPools()) {
      if (this.#pools.has(pool)) continue
      this.#pools.add(pool)
      pool.addEventListener('endpoint:ejected', (e) => {
        void this.#publish({ event_type: 'mesh.replica.ejected', event_data: { server, replica: e.detail.id, durationMs: e.detail.durationMs, ejections: e.detail.ejections } })
      })
      pool.addEventListener('endpoint:restored', (e) => {
        void this.#publish({ event_type: 'mesh.replica.restored', event_data: { server, replica: e.detail.id } })
      })
      pool.addEventListener('breaker', (e) => {
        const state = e.detail.state === 'open' ? 'opened' : e.detail.state === 'closed' ? 'closed' : e.detail.state.replace('-', '_')
        void this.#publish({ event_type: `mesh.breaker.${state}`, event_data: { server, replica: e.detail.id } })
      })
    }
  }

  #summarise (intervalMs: number): void {
    const tools: Record<string, number> = {}
    let total = 0
    for (const t of this.#c.router.catalog.tools) {
      const served = Object.values(this.#c.router.calls.served(t.name)).reduce((a, b) => a + b, 0)
      const delta = served - (this.#served.get(t.name) ?? 0)
      this.#served.set(t.name, served)
      if (delta > 0) { tools[t.name] = delta; total += delta }
    }
    if (total > 0) void this.#publish({ event_type: 'mesh.calls.summary', event_data: { intervalMs, total, tools } })
  }
}
