import { STALL_SWEEP_MIN_MS } from './constants.js'
import type { Endpoint } from './endpoint.js'
import { ReplicaStalledError } from './errors.js'
import type { StallSettings } from './options.js'
import type { CallState } from './retry.js'
import type { Emit } from './types.js'

/** What the stall detector needs from the pool. */
export interface StallContext {
  endpoints: () => readonly Endpoint[]
  /** Starts a health probe of `ep` now (unless one is under way). */
  probe: (ep: Endpoint) => void
  /** Whether the call may run twice. */
  safe: (call: CallState<unknown>) => Promise<boolean>
  /** Whether another endpoint than `ep` can take calls now. */
  alternative: (ep: Endpoint) => boolean
  /** Milliseconds the caller's own event loop was stalled in [from, to] (not the replica's fault). */
  ownStall: (from: number, to: number) => number
  emit: Emit
}

/**
 * Finds replicas that stopped answering (SIGSTOP, a frozen VM, a partition that leaves the
 * connection up) and abandons the attempts in flight on them (docs/decisions/0151).
 *
 * Two signals, both needed, so that a slow call on a live replica is never taken for a
 * stall: an attempt in flight for `afterMs / 2` with nothing heard from its replica for as
 * long starts a health probe at once; a probe unanswered for `afterMs` with nothing else
 * heard meanwhile marks the replica stalled. Anything the replica answers clears it.
 */
export class StallDetector {
  abandoned = 0
  private readonly settings: StallSettings
  private readonly ctx: StallContext
  /** A probe unanswered this long (less this process's own stalls) counts: `afterMs`, or the probe timeout if shorter. */
  private readonly unansweredMs: number
  private timer: ReturnType<typeof setInterval> | undefined

  constructor (settings: StallSettings, probeTimeoutMs: number, ctx: StallContext) {
    this.settings = settings
    this.ctx = ctx
    this.unansweredMs = Math.min(settings.afterMs, probeTimeoutMs)
  }

  start (): void {
    if (this.timer !== undefined) return
    this.timer = setInterval(() => { this.sweep(performance.now()) }, Math.max(this.settings.afterMs / 4, STALL_SWEEP_MIN_MS))
    this.timer.unref?.()
  }

  stop (): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
  }

  /** One look at every endpoint at `now` (the timer calls it). */
  sweep (now: number): void {
    const { afterMs } = this.settings
    for (const ep of this.ctx.endpoints()) {
      if (ep.attempts.size === 0 && ep.probeSentAt === 0 && (ep.timedOutProbeAt === 0 || ep.stalled)) continue
      const quiet = this.quiet(ep.lastAnswerAt, now)
      // The oldest probe still unanswered: one that timed out, else the one outstanding.
      const probe = ep.timedOutProbeAt > 0 ? ep.timedOutProbeAt : ep.probeSentAt
      if (probe > 0 && this.quiet(probe, now) >= this.unansweredMs) this.unanswered(ep, probe, now)
      if (ep.stalled) {
        this.abandonAll(ep, quiet)
      } else if (ep.probeSentAt === 0 && quiet >= afterMs / 2) {
        let oldest = Infinity
        for (const call of ep.attempts) if (call.sentAt > 0 && call.sentAt < oldest) oldest = call.sentAt
        if (oldest !== Infinity && this.quiet(oldest, now) >= afterMs / 2) this.ctx.probe(ep)
      }
    }
  }

  /** A health probe sent at `sentAt` is unanswered at `now`: the replica stalled if nothing else came back meanwhile. */
  private unanswered (ep: Endpoint, sentAt: number, now: number): void {
    if (ep.stalled || ep.lastAnswerAt >= sentAt) return
    ep.stalled = true
    const silentMs = this.quiet(ep.lastAnswerAt, now)
    this.ctx.emit('endpoint:stalled', { id: ep.id, silentMs, inFlight: ep.attempts.size })
    this.abandonAll(ep, silentMs)
  }

  /**
   * Abandons the attempts in flight on a stalled endpoint, if another endpoint can take calls:
   * with none, giving up would turn a late answer into a failure, so they wait (the replica
   * may resume), and are abandoned at a later sweep if another endpoint comes back.
   */
  private abandonAll (ep: Endpoint, silentMs: number): void {
    if (!this.ctx.alternative(ep)) return
    for (const call of ep.attempts) if (call.sentAt > 0 && !call.abandoning) this.abandon(ep, call, silentMs)
  }

  /** Time since `since`, less any stall of this process's own event loop meanwhile. */
  private quiet (since: number, now: number): number {
    return now - since - this.ctx.ownStall(since, now)
  }

  private abandon (ep: Endpoint, call: CallState<unknown>, silentMs: number): void {
    const controller = call.attemptAbort
    if (controller === undefined) return
    call.abandoning = true
    void this.ctx.safe(call).then((safe) => {
      // The attempt may have settled, or the call moved on to another attempt, meanwhile.
      if (call.attemptAbort !== controller || !ep.attempts.has(call)) return
      if (!safe && !this.settings.abandonUnsafe) return
      this.abandoned++
      controller.abort(new ReplicaStalledError(ep.id, silentMs))
    }, () => {})
  }
}
