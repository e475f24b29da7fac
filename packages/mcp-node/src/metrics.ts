import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { Logger } from './logger.js'

/** What the metrics read at scrape time. */
export interface MetricsSource {
  peers: () => number
  meshTools: () => number
  sessions: () => Record<string, number>
  upstreams: () => Array<{ name: string, up: boolean, restarts: number }>
  pools: () => Array<{ server: string, endpoints: Array<{ id: string, state: string, breaker: string, inFlight: number }>, retries: number, budgetExhausted: number }>
  registry: () => Record<string, number>
  /** Limiter budgets held and gossip of mesh-wide limit usage. */
  limits?: () => Record<string, number>
  /** The HTTP front door's admission (undefined while it is closed). */
  httpAdmission?: () => { sessions: number, pendingRequests: number, pendingBytes: number, inFlight: number, streams: number, principals: number, refused: Partial<Record<string, number>> } | undefined
}

/** Prometheus metrics of one node, in a registry of its own (no global state). */
export class NodeMetrics {
  readonly registry = new Registry()
  readonly calls: Counter<'tool' | 'peer' | 'outcome'>
  readonly latency: Histogram<'tool' | 'peer'>
  /** Sessions and requests the libp2p door refused, evicted or reset at one of its limits (decisions 0156, 0157). */
  readonly limits: Counter<'error'>
  readonly audit: Counter<'method' | 'outcome' | 'role'>

  constructor (source: MetricsSource) {
    const registers = [this.registry]
    collectDefaultMetrics({ register: this.registry, prefix: 'p2p_mcp_' })
    this.calls = new Counter({ name: 'p2p_mcp_tool_calls_total', help: 'tools/call handled, by aggregated tool, serving peer and outcome (ok, tool_error, error, cancelled)', labelNames: ['tool', 'peer', 'outcome'], registers })
    this.latency = new Histogram({
      name: 'p2p_mcp_tool_call_duration_seconds', help: 'tools/call latency as this peer saw it, by tool and serving peer', labelNames: ['tool', 'peer'], registers,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    })
    this.limits = new Counter({
      name: 'p2p_mcp_libp2p_limit_events_total', registers, labelNames: ['error'],
      help: 'libp2p door limits hit, by error: SessionLimitError (session refused), SessionEvictedError (idle session closed for another peer), InFlightLimitError (request refused), SendQueueFullError (stream of a non-reading remote reset)',
    })
    this.audit = new Counter({
      name: 'p2p_mcp_audit_total', help: 'tools/call, resources/read and prompts/get audited here, by method, outcome (ok, tool_error, error, cancelled, denied, rate_limited) and role (entry, serving)',
      labelNames: ['method', 'outcome', 'role'], registers,
    })
    new Gauge({
      name: 'p2p_mcp_limits', help: 'Limiter counters: budgets held, usage messages sent, received and rejected', labelNames: ['counter'], registers,
      collect () { this.reset(); for (const [k, v] of Object.entries(source.limits?.() ?? {})) this.set({ counter: k }, v) },
    })
    new Gauge({ name: 'p2p_mcp_peers', help: 'Connected libp2p peers', registers, collect () { this.set(source.peers()) } })
    new Gauge({ name: 'p2p_mcp_mesh_tools', help: 'Tools this peer serves from the mesh', registers, collect () { this.set(source.meshTools()) } })
    new Gauge({
      name: 'p2p_mcp_sessions', help: 'Open downstream sessions by front door', labelNames: ['door'], registers,
      collect () { this.reset(); for (const [door, n] of Object.entries(source.sessions())) this.set({ door }, n) },
    })
    new Gauge({
      name: 'p2p_mcp_upstream_up', help: '1 when a hosted upstream server is up', labelNames: ['upstream'], registers,
      collect () { this.reset(); for (const u of source.upstreams()) this.set({ upstream: u.name }, u.up ? 1 : 0) },
    })
    new Gauge({
      name: 'p2p_mcp_upstream_restarts', help: 'Restarts of a hosted upstream server', labelNames: ['upstream'], registers,
      collect () { this.reset(); for (const u of source.upstreams()) this.set({ upstream: u.name }, u.restarts) },
    })
    new Gauge({
      name: 'p2p_mcp_pool_endpoints', help: 'Replicas per server and state (healthy, unhealthy, ejected, draining)', labelNames: ['server', 'state'], registers,
      collect () {
        this.reset()
        for (const p of source.pools()) {
          const counts: Record<string, number> = {}
          for (const e of p.endpoints) counts[e.state] = (counts[e.state] ?? 0) + 1
          for (const [state, n] of Object.entries(counts)) this.set({ server: p.server, state }, n)
        }
      },
    })
    new Gauge({
      name: 'p2p_mcp_pool_breaker_open', help: '1 when the circuit breaker of a replica is open', labelNames: ['server', 'peer'], registers,
      collect () { this.reset(); for (const p of source.pools()) for (const e of p.endpoints) this.set({ server: p.server, peer: e.id }, e.breaker === 'open' ? 1 : 0) },
    })
    new Gauge({
      name: 'p2p_mcp_pool_in_flight', help: 'Calls in flight per replica', labelNames: ['server', 'peer'], registers,
      collect () { this.reset(); for (const p of source.pools()) for (const e of p.endpoints) this.set({ server: p.server, peer: e.id }, e.inFlight) },
    })
    new Gauge({
      name: 'p2p_mcp_pool_retries', help: 'Retries made by the pool of a server', labelNames: ['server'], registers,
      collect () { this.reset(); for (const p of source.pools()) this.set({ server: p.server }, p.retries) },
    })
    new Gauge({
      name: 'p2p_mcp_http_admission', help: 'HTTP front door: sessions admitted (open or initialising), bodies being read (requests, bytes), requests in flight, streams, principals holding any', labelNames: ['held'], registers,
      collect () {
        this.reset()
        const a = source.httpAdmission?.()
        if (a === undefined) return
        for (const held of ['sessions', 'pendingRequests', 'pendingBytes', 'inFlight', 'streams', 'principals'] as const) this.set({ held }, a[held])
      },
    })
    new Gauge({
      name: 'p2p_mcp_http_refused', help: 'HTTP requests refused with 503 since start, by admission limit', labelNames: ['limit'], registers,
      collect () { this.reset(); for (const [limit, n] of Object.entries(source.httpAdmission?.()?.refused ?? {})) this.set({ limit }, n ?? 0) },
    })
    new Gauge({
      name: 'p2p_mcp_registry', help: 'Registry counters: providers, gossip accepted/rejected, heartbeats, DHT gets/puts', labelNames: ['counter'], registers,
      collect () { this.reset(); for (const [k, v] of Object.entries(source.registry())) this.set({ counter: k }, v) },
    })
  }

  record (tool: string, peer: string, outcome: string, seconds: number): void {
    this.calls.inc({ tool, peer, outcome })
    this.latency.observe({ tool, peer }, seconds)
  }
}

const LIMIT_ERRORS = new Set(['SessionLimitError', 'SessionEvictedError', 'InFlightLimitError', 'SendQueueFullError'])

/**
 * A session-level error of the libp2p door: a limit hit is counted, and logged at warn (a
 * refused request, which a flood repeats, at debug); other errors are the transport's to log.
 */
export function libp2pDoorError (err: Error, sessionId: string | undefined, metrics: NodeMetrics, log: Logger): void {
  if (!LIMIT_ERRORS.has(err.name)) return
  metrics.limits.inc({ error: err.name })
  if (err.name === 'InFlightLimitError') log.debug({ session: sessionId }, '%s', err.message)
  else log.warn({ session: sessionId, error: err.name }, '%s', err.message)
}
