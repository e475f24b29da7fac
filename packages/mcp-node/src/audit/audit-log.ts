import type { Counter } from 'prom-client'
import { MAX_AUDIT_QUERY_ENTRIES } from '../constants.js'
import type { Logger } from '../logger.js'
import { globToRegExp } from '../naming.js'

/** The methods the audit log records. */
export type AuditedMethod = 'tools/call' | 'resources/read' | 'prompts/get'

/**
 * What became of a request: it ran (`ok`, `tool_error` when a tool answered `isError`), failed
 * (`error`, `cancelled`), or was refused before it ran (`denied` by the policy, `rate_limited`).
 */
export type AuditOutcome = 'ok' | 'tool_error' | 'error' | 'cancelled' | 'denied' | 'rate_limited'

/** One audited request. */
export interface AuditEntry {
  /** When it ended, ms since the epoch. */
  at: number
  method: AuditedMethod
  principal: string
  /** `peer:<id>` of the entry peer that asserted the principal, when the request came across a hop (decision 0176). */
  assertedBy?: string
  /** The aggregated tool or prompt name, or the resource URI. */
  target: string
  /** The server of the mesh it was for ('' when unknown: a refused request for nothing known). */
  server: string
  /** The peer that served it ('' when it never reached one). */
  peer: string
  outcome: AuditOutcome
  /** `entry`: this peer took the request from a client; `serving`: this peer ran it for another peer's route. */
  role: 'entry' | 'serving'
  /** Why it was refused or failed. */
  reason?: string
  durationMs: number
  requestId?: string
}

/** What `query()` filters on; patterns take `*` and `?`. */
export interface AuditQuery {
  principal?: string
  /** Pattern over `target` (tool or prompt name, or resource URI). */
  tool?: string
  outcome?: string
  method?: string
  /** Entries at or after this time (ms since the epoch). */
  since?: number
  until?: number
  /** Most entries returned, newest first. @default 100 */
  limit?: number
}

/**
 * The audit log of a peer: every tools/call, resources/read and prompts/get it allowed or
 * refused, as one structured log line each (component `audit`), a Prometheus counter, and a
 * ring buffer of the last `maxEntries` that `mesh://audit` queries (newest first).
 */
export class AuditLog {
  private readonly ring: Array<AuditEntry | undefined>
  private next = 0
  private count = 0
  private readonly log: Logger | undefined
  private readonly counter: Counter<'method' | 'outcome' | 'role'> | undefined

  constructor (init: { maxEntries: number, logger?: Logger, counter?: Counter<'method' | 'outcome' | 'role'> }) {
    if (!Number.isSafeInteger(init.maxEntries) || init.maxEntries < 1) throw new TypeError(`audit maxEntries ${init.maxEntries} is not a positive integer`)
    this.ring = new Array<AuditEntry | undefined>(init.maxEntries)
    this.log = init.logger
    this.counter = init.counter
  }

  /** Entries held now (at most `maxEntries`). */
  get size (): number { return this.count }

  record (entry: AuditEntry): void {
    this.ring[this.next] = entry
    this.next = (this.next + 1) % this.ring.length
    if (this.count < this.ring.length) this.count++
    this.counter?.inc({ method: entry.method, outcome: entry.outcome, role: entry.role })
    if (this.log !== undefined) {
      const refused = entry.outcome === 'denied' || entry.outcome === 'rate_limited'
      this.log[refused ? 'warn' : 'info'](entry, '%s %s %s', entry.method, entry.target, entry.outcome)
    }
  }

  /** The entries that match, newest first, at most `limit` (capped at `MAX_AUDIT_QUERY_ENTRIES`). */
  query (q: AuditQuery = {}): AuditEntry[] {
    const limit = Math.min(q.limit ?? 100, MAX_AUDIT_QUERY_ENTRIES)
    const principal = q.principal === undefined ? undefined : globToRegExp(q.principal)
    const tool = q.tool === undefined ? undefined : globToRegExp(q.tool)
    const out: AuditEntry[] = []
    for (let i = 1; i <= this.count && out.length < limit; i++) {
      const e = this.ring[(this.next - i + this.ring.length) % this.ring.length]!
      if (q.until !== undefined && e.at > q.until) continue
      if (q.since !== undefined && e.at < q.since) continue
      if (q.outcome !== undefined && e.outcome !== q.outcome) continue
      if (q.method !== undefined && e.method !== q.method) continue
      if (principal !== undefined && !principal.test(e.principal)) continue
      if (tool !== undefined && !tool.test(e.target)) continue
      out.push(e)
    }
    return out
  }
}
