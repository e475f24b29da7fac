import { createHash } from 'node:crypto'
import { Gcra } from './gcra.js'

/** One limit that a request must pass. */
export interface LimitSpec {
  /**
   * Identifies the budget: one principal under one rule (and one server when the rule names
   * servers). A shared limit has the same key at every peer, so their usage adds up.
   */
  key: string
  /** What an error names: the rule and the principal or server. */
  label: string
  requestsPerMinute?: number | undefined
  /** Requests admitted at once after an idle spell. @default max(1, requestsPerMinute / 60) */
  burst?: number | undefined
  maxConcurrent?: number | undefined
  /** Shared mesh-wide by gossip (approximate); otherwise exact at this peer. */
  shared: boolean
}

/** A request admitted (release it when it ends) or refused (by which limit, and when to retry). */
export type Admission =
  | { ok: true, release: () => void }
  | { ok: false, spec: LimitSpec, limit: 'rate' | 'concurrency', retryAfterMs: number }

/** One peer's usage of a shared limit, as gossiped: the hash of its key, its demand and its calls in flight. */
export type SharedUsage = [keyHash: string, demand: number, inFlight: number]

interface KeyState {
  readonly gcra: Gcra
  inFlight: number
  /** Requests asked for (admitted or not), exponentially decayed: this peer's demand. */
  demand: number
  demandAt: number
  /** For shared limits: the key's hash, as gossiped. */
  readonly hash: string | undefined
}

interface Remote { demand: number, inFlight: number, at: number }

export interface CallLimiterInit {
  /** Budgets kept at once; idle ones are forgotten first. @default 100000 */
  maxKeys?: number
  /** Half-life of the demand that divides a shared rate between peers. @default 2000 */
  demandHalfLifeMs?: number
  /** A peer's gossiped usage older than this is ignored (the peer left or stalled). @default 2000 */
  staleMs?: number
  /** How long a request refused by a concurrency limit is told to wait. @default 250 */
  concurrencyRetryMs?: number
  /** The clock. @default Date.now */
  now?: () => number
}

const NOOP = (): void => {}
const MAX_REMOTE_PEERS_PER_KEY = 256
const EVICTION_SCAN = 64

/** The hash a shared limit's key travels as (16 bytes of sha256, hex). */
export function sharedKeyHash (key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 32)
}

/**
 * Rate (GCRA) and concurrency limits by key, exact at this peer. A shared limit is divided
 * between the peers that see demand for it (decision 0181): each peer gossips its decayed
 * demand and calls in flight per shared key, and enforces `requestsPerMinute × its share of the
 * demand` (the burst scaled the same way) and `maxConcurrent` minus the others' calls in flight.
 */
export class CallLimiter {
  private readonly keys = new Map<string, KeyState>()
  private readonly remote = new Map<string, Map<string, Remote>>()
  private readonly maxKeys: number
  private readonly halfLifeMs: number
  private readonly staleMs: number
  private readonly concurrencyRetryMs: number
  private readonly now: () => number

  constructor (init: CallLimiterInit = {}) {
    this.maxKeys = init.maxKeys ?? 100_000
    this.halfLifeMs = init.demandHalfLifeMs ?? 2_000
    this.staleMs = init.staleMs ?? 2_000
    this.concurrencyRetryMs = init.concurrencyRetryMs ?? 250
    this.now = init.now ?? Date.now
  }

  /** Budgets held now. */
  get size (): number { return this.keys.size }

  /** Admits a request against every spec, or against none (the first that refuses is named). */
  acquire (specs: readonly LimitSpec[]): Admission {
    if (specs.length === 0) return { ok: true, release: NOOP }
    const now = this.now()
    const states: KeyState[] = []
    const rates: Array<{ intervalMs: number } | undefined> = []
    for (const spec of specs) {
      const s = this.state(spec, now)
      states.push(s)
      let share = 1
      let remoteInFlight = 0
      if (spec.shared) {
        s.demand = this.decayed(s, now) + 1
        s.demandAt = now
        const others = this.others(s.hash!, now)
        share = s.demand / (s.demand + others.demand)
        remoteInFlight = others.inFlight
      }
      if (spec.maxConcurrent !== undefined && s.inFlight + remoteInFlight >= spec.maxConcurrent) {
        return { ok: false, spec, limit: 'concurrency', retryAfterMs: this.concurrencyRetryMs }
      }
      if (spec.requestsPerMinute === undefined) { rates.push(undefined); continue }
      const perMinute = spec.requestsPerMinute * share
      const intervalMs = 60_000 / perMinute
      const burst = Math.max(1, Math.floor((spec.burst ?? Math.max(1, spec.requestsPerMinute / 60)) * share))
      const wait = s.gcra.wait(now, intervalMs, burst)
      if (wait > 0) return { ok: false, spec, limit: 'rate', retryAfterMs: wait }
      rates.push({ intervalMs })
    }
    for (let i = 0; i < states.length; i++) {
      const r = rates[i]
      if (r !== undefined) states[i]!.gcra.take(now, r.intervalMs)
      states[i]!.inFlight++
    }
    let released = false
    return {
      ok: true,
      release: () => {
        if (released) return
        released = true
        for (const s of states) s.inFlight--
      },
    }
  }

  /** This peer's usage of the shared limits it holds (for gossip): demand decayed to now, calls in flight. */
  shared (): SharedUsage[] {
    const now = this.now()
    const out: SharedUsage[] = []
    for (const s of this.keys.values()) {
      if (s.hash === undefined) continue
      const demand = this.decayed(s, now)
      if (demand < 0.001 && s.inFlight === 0) continue
      out.push([s.hash, Math.round(demand * 1000) / 1000, s.inFlight])
    }
    return out
  }

  /** Another peer's usage (from gossip), as of `at` on this peer's clock. Replaces that peer's previous report. */
  observe (peer: string, usage: readonly SharedUsage[], at = this.now()): void {
    for (const byPeer of this.remote.values()) byPeer.delete(peer)
    for (const [hash, demand, inFlight] of usage) {
      let byPeer = this.remote.get(hash)
      if (byPeer === undefined) {
        if (this.remote.size >= this.maxKeys) continue
        this.remote.set(hash, byPeer = new Map<string, Remote>())
      }
      if (byPeer.size >= MAX_REMOTE_PEERS_PER_KEY) continue
      byPeer.set(peer, { demand, inFlight, at })
    }
    for (const [hash, byPeer] of this.remote) if (byPeer.size === 0) this.remote.delete(hash)
  }

  /** The other peers' fresh demand (decayed to now) and calls in flight for a shared key. */
  private others (hash: string, now: number): { demand: number, inFlight: number } {
    const byPeer = this.remote.get(hash)
    let demand = 0
    let inFlight = 0
    if (byPeer === undefined) return { demand, inFlight }
    for (const r of byPeer.values()) {
      if (now - r.at > this.staleMs) continue
      demand += r.demand * 2 ** (-(now - r.at) / this.halfLifeMs)
      inFlight += r.inFlight
    }
    return { demand, inFlight }
  }

  private decayed (s: KeyState, now: number): number {
    return s.demand === 0 ? 0 : s.demand * 2 ** (-(now - s.demandAt) / this.halfLifeMs)
  }

  private state (spec: LimitSpec, now: number): KeyState {
    let s = this.keys.get(spec.key)
    if (s !== undefined) {
      // Most recently used last: eviction takes the oldest.
      this.keys.delete(spec.key)
      this.keys.set(spec.key, s)
      return s
    }
    if (this.keys.size >= this.maxKeys) this.evict(now)
    s = { gcra: new Gcra(), inFlight: 0, demand: 0, demandAt: now, hash: spec.shared ? sharedKeyHash(spec.key) : undefined }
    this.keys.set(spec.key, s)
    return s
  }

  /** Forgets one budget: the least recently used that holds no debt and no call, else the least recently used without calls. */
  private evict (now: number): void {
    let fallback: string | undefined
    let scanned = 0
    for (const [key, s] of this.keys) {
      if (s.inFlight > 0) continue
      if (s.gcra.idle(now)) { this.keys.delete(key); return }
      fallback ??= key
      if (++scanned >= EVICTION_SCAN) break
    }
    if (fallback !== undefined) this.keys.delete(fallback)
  }
}
