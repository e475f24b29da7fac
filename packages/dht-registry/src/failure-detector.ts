import { TypedEventEmitter } from 'main-event'
import {
  DEFAULT_HEARTBEAT_INTERVAL_MS, DEFAULT_MAX_CONCURRENT_PROBES, DEFAULT_MISSED_HEARTBEATS, DEFAULT_SUSPECT_TIMEOUT_HEARTBEATS,
  MAX_PROBE_TIMEOUT_MS, MIN_PROBE_TIMEOUT_MS,
} from './constants.js'
import { InvalidParametersError } from './errors.js'
import { noopLogger } from './logger.js'
import { positiveInteger } from './validate.js'
import type { Logger } from './logger.js'

/**
 * What a peer is to this one. `alive`: heard from within `missedHeartbeats` intervals, or its
 * connection answered the last probe; `suspect`: silent that long and the probe has not answered
 * (it stays in every view): the probe is in flight, timed out, or failed while a connection to
 * the peer stays open; `dead`: silent and the probe failed fast with no connection left (refused,
 * reset, nothing listening), or silent past `suspectTimeoutHeartbeats`.
 */
export type PeerLiveness = 'alive' | 'suspect' | 'dead'

/** How a probe of a silent peer ended. */
export type ProbeOutcome = 'answered' | 'refused' | 'timeout'

/** Asks a silent peer whether it is there (a libp2p ping over its connection, dialing if needed). */
export type ProbeFn = (peerId: string, signal: AbortSignal) => Promise<void>

export interface LivenessEventDetail {
  peerId: string
  /** Silence when the state changed: ms since the last heartbeat that counted. */
  silentMs: number
  /** For `peer:dead`: why. */
  reason?: 'probe-refused' | 'no-probe' | 'suspect-timeout'
}

export interface FailureDetectorEvents {
  'peer:suspect': CustomEvent<LivenessEventDetail>
  /** A suspect answered a probe or heartbeated again. */
  'peer:alive': CustomEvent<LivenessEventDetail>
  'peer:dead': CustomEvent<LivenessEventDetail>
}

export interface FailureDetectorInit {
  /** Heartbeat interval of peers that do not say theirs. @default 5000 */
  heartbeatIntervalMs?: number
  /** Heartbeat intervals of silence before a peer is suspected and probed. @default 3 */
  missedHeartbeats?: number
  /**
   * Heartbeat intervals of silence after which a suspect whose probes time out (its connection
   * stays open but nothing answers: a frozen process) is declared dead. @default 20
   */
  suspectTimeoutHeartbeats?: number
  /** Time limit of one probe. @default the peer's heartbeat interval, within 250..5000 ms */
  probeTimeoutMs?: number
  /** Probes in flight at once; further suspects wait for the next check. @default 16 */
  maxConcurrentProbes?: number
  /** How a silent peer is probed. Without one, silence alone decides (`dead` after `missedHeartbeats`). */
  probe?: ProbeFn
  /**
   * Whether a libp2p connection to the peer is open. A probe that times out counts as a failure
   * only when no connection is open; on an open connection the peer stays suspect.
   * @default () => false
   */
  isConnected?: (peerId: string) => boolean
  /** How often `check()` runs once started. @default a quarter of heartbeatIntervalMs, within 25..1000 ms */
  checkIntervalMs?: number
  /** Clock, ms. @default Date.now */
  now?: () => number
  /** @default a logger that drops everything */
  logger?: Logger
}

interface Watch {
  lastHeardAt: number
  intervalMs: number
  state: PeerLiveness
  probing: boolean
  /** When the last probe answered: silence is counted from the later of this and lastHeardAt. */
  answeredAt: number
}


/**
 * The mesh's one definition of a dead peer: heartbeats (any signed record that proves the peer
 * produced something) together with the state of a libp2p connection to it. Silence alone only
 * makes a peer `suspect`; a probe decides: an answer keeps it (alive but slow), a refused or
 * reset connection kills it, and a probe that times out on a connection that stays open keeps
 * it suspect until `suspectTimeoutHeartbeats`. Deterministic given its clock and probe: `check()`
 * does all the work, so a test or simulation can drive it without timers.
 */
export class FailureDetector extends TypedEventEmitter<FailureDetectorEvents> {
  private readonly watches = new Map<string, Watch>()
  private readonly heartbeatIntervalMs: number
  private readonly missedHeartbeats: number
  private readonly suspectTimeoutHeartbeats: number
  private readonly probeTimeoutMs: number | undefined
  private readonly maxConcurrentProbes: number
  private readonly probeFn: ProbeFn | undefined
  private readonly isConnected: (peerId: string) => boolean
  private readonly now: () => number
  private readonly log: Logger
  private readonly checkIntervalMs: number
  private probes = 0
  private lifecycle = new AbortController()
  private timer: ReturnType<typeof setInterval> | undefined

  constructor (init: FailureDetectorInit = {}) {
    super()
    this.heartbeatIntervalMs = positiveInteger('heartbeatIntervalMs', init.heartbeatIntervalMs, DEFAULT_HEARTBEAT_INTERVAL_MS)
    this.missedHeartbeats = positiveInteger('missedHeartbeats', init.missedHeartbeats, DEFAULT_MISSED_HEARTBEATS)
    this.suspectTimeoutHeartbeats = positiveInteger('suspectTimeoutHeartbeats', init.suspectTimeoutHeartbeats, DEFAULT_SUSPECT_TIMEOUT_HEARTBEATS)
    if (this.suspectTimeoutHeartbeats <= this.missedHeartbeats) {
      throw new InvalidParametersError('suspectTimeoutHeartbeats', this.suspectTimeoutHeartbeats, `more than missedHeartbeats (${this.missedHeartbeats})`)
    }
    this.probeTimeoutMs = init.probeTimeoutMs === undefined ? undefined : positiveInteger('probeTimeoutMs', init.probeTimeoutMs, 1)
    this.maxConcurrentProbes = positiveInteger('maxConcurrentProbes', init.maxConcurrentProbes, DEFAULT_MAX_CONCURRENT_PROBES)
    this.probeFn = init.probe
    this.isConnected = init.isConnected ?? (() => false)
    this.checkIntervalMs = positiveInteger('checkIntervalMs', init.checkIntervalMs, Math.min(1_000, Math.max(25, Math.floor(this.heartbeatIntervalMs / 4))))
    this.now = init.now ?? Date.now
    this.log = init.logger ?? noopLogger
  }

  /**
   * Evidence that `peerId` was alive at `at` (default now; pass the record's issue time for
   * second-hand copies, so an old record never makes a dead peer look alive).
   */
  heartbeat (peerId: string, options: { intervalMs?: number, at?: number } = {}): void {
    const now = this.now()
    const at = Math.min(now, options.at ?? now)
    const w = this.watches.get(peerId)
    const intervalMs = options.intervalMs ?? w?.intervalMs ?? this.heartbeatIntervalMs
    if (w === undefined) {
      this.watches.set(peerId, { lastHeardAt: at, intervalMs, state: 'alive', probing: false, answeredAt: 0 })
      return
    }
    w.intervalMs = intervalMs
    if (at <= w.lastHeardAt) return
    w.lastHeardAt = at
    if (w.state !== 'alive' && this.silenceOf(w, now) < this.suspectAfter(w)) {
      w.state = 'alive'
      this.emit('peer:alive', peerId, w, now)
    }
  }

  /**
   * The last libp2p connection to `peerId` closed: probe it now rather than after its silence.
   * A crashed process closes its sockets, so this finds it dead within one probe.
   */
  connectionClosed (peerId: string): void {
    const w = this.watches.get(peerId)
    if (w === undefined || w.state === 'dead' || w.probing || this.probes >= this.maxConcurrentProbes || this.isConnected(peerId)) return
    void this.probe(peerId, w, true)
  }

  /**
   * Another peer reports `peerId` dead. Never taken on its word (one peer's failed dial must not
   * remove a peer everywhere): unless this peer has its own evidence of life (a connection to it
   * is open, or it heartbeated within the last interval) it probes at once, and only a refused
   * probe kills. Returns whether a probe started.
   */
  reportDead (peerId: string): boolean {
    const w = this.watches.get(peerId)
    if (w === undefined || w.state !== 'alive' || w.probing || this.probes >= this.maxConcurrentProbes) return false
    if (this.isConnected(peerId) || this.silenceOf(w, this.now()) < w.intervalMs) return false
    void this.probe(peerId, w, true)
    return true
  }

  /** Stops watching a peer (it left on its own, or its record expired). */
  forget (peerId: string): void {
    this.watches.delete(peerId)
  }

  state (peerId: string): PeerLiveness | undefined {
    return this.watches.get(peerId)?.state
  }

  /** Peers watched, by state. */
  counts (): Record<PeerLiveness, number> {
    const out = { alive: 0, suspect: 0, dead: 0 }
    for (const w of this.watches.values()) out[w.state]++
    return out
  }

  /** Re-evaluates every watched peer: suspects the silent, probes them, declares the dead. */
  check (): void {
    const now = this.now()
    for (const [peerId, w] of this.watches) {
      if (w.state === 'dead') continue
      const silence = this.silenceOf(w, now)
      if (silence < this.suspectAfter(w)) continue
      if (w.state === 'alive') {
        w.state = 'suspect'
        this.emit('peer:suspect', peerId, w, now)
      }
      if (silence >= this.suspectTimeoutHeartbeats * w.intervalMs) {
        this.declareDead(peerId, w, now, 'suspect-timeout')
      } else if (this.probeFn === undefined) {
        this.declareDead(peerId, w, now, 'no-probe')
      } else if (!w.probing && this.probes < this.maxConcurrentProbes) {
        void this.probe(peerId, w)
      }
    }
  }

  /** Runs `check()` every `checkIntervalMs` (an unref'ed timer). Idempotent. */
  start (): void {
    if (this.timer !== undefined) return
    this.lifecycle = new AbortController()
    this.timer = setInterval(() => { this.check() }, this.checkIntervalMs)
    this.timer.unref?.()
  }

  /** Stops the timer and probes in flight and forgets every peer. Idempotent. */
  stop (): void {
    clearInterval(this.timer)
    this.timer = undefined
    this.lifecycle.abort()
    this.watches.clear()
  }

  private silenceOf (w: Watch, now: number): number {
    return now - Math.max(w.lastHeardAt, w.answeredAt)
  }

  private suspectAfter (w: Watch): number {
    return this.missedHeartbeats * w.intervalMs
  }

  private async probe (peerId: string, w: Watch, afterClose = false): Promise<void> {
    const probe = this.probeFn
    if (probe === undefined) return
    w.probing = true
    this.probes++
    const timeoutMs = this.probeTimeoutMs ?? Math.min(MAX_PROBE_TIMEOUT_MS, Math.max(MIN_PROBE_TIMEOUT_MS, w.intervalMs))
    const timeout = AbortSignal.timeout(timeoutMs)
    let outcome: ProbeOutcome
    try {
      await probe(peerId, AbortSignal.any([timeout, this.lifecycle.signal]))
      outcome = 'answered'
    } catch (err) {
      // only a failure with no connection left and no time-out is proof of death: a time-out may be our own
      // saturation or a slow peer, and a failure while a connection stays open is not the peer's silence
      outcome = timeout.aborted || this.isConnected(peerId) ? 'timeout' : 'refused'
      this.log.debug('probe of %s: %s (%s)', peerId, outcome, err instanceof Error ? err.message : String(err))
    } finally {
      w.probing = false
      this.probes--
    }
    if (this.lifecycle.signal.aborted || this.watches.get(peerId) !== w || w.state === 'dead') return
    const now = this.now()
    if (outcome === 'answered') {
      w.answeredAt = now
      if (w.state !== 'alive') {
        w.state = 'alive'
        this.emit('peer:alive', peerId, w, now)
      }
    } else if (outcome === 'refused') {
      // a heartbeat may have arrived while the probe ran
      // two signals after a close: the connection went and a new one is refused
      if (afterClose || this.silenceOf(w, now) >= this.suspectAfter(w)) this.declareDead(peerId, w, now, 'probe-refused')
    }
    // a timeout leaves it suspect: the next check probes again, until suspectTimeoutHeartbeats
  }

  private declareDead (peerId: string, w: Watch, now: number, reason: NonNullable<LivenessEventDetail['reason']>): void {
    w.state = 'dead'
    this.emit('peer:dead', peerId, w, now, reason)
  }

  private emit (type: keyof FailureDetectorEvents, peerId: string, w: Watch, now: number, reason?: LivenessEventDetail['reason']): void {
    this.safeDispatchEvent(type, { detail: { peerId, silentMs: this.silenceOf(w, now), ...(reason === undefined ? {} : { reason }) } })
  }
}
