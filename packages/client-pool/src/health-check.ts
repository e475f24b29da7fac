import * as C from './constants.js'
import type { Endpoint } from './endpoint.js'
import type { HealthSettings } from './options.js'
import { describe } from './session.js'
import type { Session } from './session.js'
import { abortable } from './timers.js'
import type { Emit, Logger } from './types.js'

/** What active health checks need from the pool. */
export interface HealthCheckContext {
  /** False once the pool closes or the endpoint left it: its checks stop. */
  current: (ep: Endpoint) => boolean
  /** The root scope's session to the endpoint (checks share it with calls). */
  session: (ep: Endpoint) => Session
  random: () => number
  logger: Logger
  emit: Emit
  /**
   * A probe passed on a replica out of rotation, with evidence that it was down and is back
   * (the previous probe failed, it had stalled, or the probe needed a new session): the pool
   * returns it to rotation.
   */
  recovered: (ep: Endpoint) => void
}

/** Active health checks: a probe per endpoint every interval (jittered), thresholds to flip healthy and unhealthy. */
export class HealthChecks {
  private readonly settings: HealthSettings
  private readonly ctx: HealthCheckContext

  constructor (settings: HealthSettings, ctx: HealthCheckContext) {
    this.settings = settings
    this.ctx = ctx
  }

  /** Probes `ep` now unless a probe of it is under way (the next one is scheduled from this one). */
  checkNow (ep: Endpoint): boolean {
    if (ep.healthProbe !== undefined || !this.ctx.current(ep)) return false
    if (ep.healthTimer !== undefined) clearTimeout(ep.healthTimer)
    ep.healthTimer = undefined
    void this.check(ep)
    return true
  }

  schedule (ep: Endpoint, delayMs: number): void {
    ep.healthTimer = setTimeout(() => {
      ep.healthTimer = undefined
      void this.check(ep)
    }, delayMs)
    ep.healthTimer.unref?.()
  }

  private async check (ep: Endpoint): Promise<void> {
    const hc = this.settings
    if (!this.ctx.current(ep)) return
    const controller = new AbortController()
    ep.healthProbe = controller
    const session = this.ctx.session(ep)
    const timer = setTimeout(() => {
      const reason = new Error(`health check of ${ep.id} timed out after ${hc.timeoutMs} ms`)
      controller.abort(reason)
      // A session that cannot open within a health check's timeout is as good as down.
      session.abortConnect(reason)
    }, hc.timeoutMs)
    timer.unref?.()
    let ok = false
    let sentAt = 0
    const reopened = session.client === undefined
    try {
      // A probe tries to connect at once: the session's reconnect backoff is for calls, and
      // the probe interval already paces the attempts (docs/decisions/0150).
      const client = session.client ?? await abortable(session.open(true), controller.signal)
      sentAt = ep.probeSentAt = performance.now()
      await abortable(hc.probe(client, { signal: controller.signal, timeoutMs: hc.timeoutMs }), controller.signal)
      ok = true
    } catch (err) {
      this.ctx.logger.debug('health check of %s failed: %s', ep.id, describe(err))
      // The stall detector weighs it, less any stall of this process meanwhile: after a long
      // pause of this process, the probe's timer fires before its answer is read.
      if (sentAt > 0 && controller.signal.aborted) ep.timedOutProbeAt = sentAt
    } finally {
      clearTimeout(timer)
      ep.healthProbe = undefined
      ep.probeSentAt = 0
    }
    if (!this.ctx.current(ep)) return
    if (ok) {
      const back = (ep.healthFailures > 0 || ep.stalled || reopened) && (!ep.healthy || ep.ejected || ep.stalled || ep.breakerTesting())
      ep.lastAnswerAt = performance.now()
      ep.timedOutProbeAt = 0
      ep.healthFailures = 0
      ep.healthSuccesses++
      let flipped = false
      if (!ep.healthy && ep.healthSuccesses >= hc.healthyThreshold) {
        ep.healthy = true
        flipped = true
        this.ctx.emit('endpoint:healthy', { id: ep.id })
      }
      if (back || flipped) this.ctx.recovered(ep)
    } else {
      ep.healthSuccesses = 0
      ep.healthFailures++
      if (ep.healthy && ep.healthFailures >= hc.unhealthyThreshold) {
        ep.healthy = false
        this.ctx.emit('endpoint:unhealthy', { id: ep.id })
      }
    }
    const jitter = 1 + (this.ctx.random() * 2 - 1) * C.HEALTH_CHECK_JITTER
    this.schedule(ep, hc.intervalMs * jitter)
  }
}
