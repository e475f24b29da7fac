import type { Endpoint } from './endpoint.js'
import type { OutlierSettings } from './options.js'
import type { Emit } from './types.js'

/**
 * Passive outlier ejection: takes `ep` out of rotation for a time that grows with its recent
 * ejections (capped), unless too many endpoints are ejected already; it comes back by itself
 * (`onReturn`), or sooner when a health check finds it back (docs/decisions/0150).
 */
export function ejectOutlier (ep: Endpoint, list: readonly Endpoint[], od: OutlierSettings, emit: Emit, onReturn: (ep: Endpoint) => void): void {
  if (ep.ejected || ep.draining) return
  let ejected = 0
  for (const e of list) if (e.ejected) ejected++
  const allowed = Math.max(1, Math.floor(list.length * od.maxEjectedPercent / 100))
  if (ejected >= allowed) return
  const now = Date.now()
  // Each quiet base period since the last ejection forgives one ejection of the streak.
  const forgiven = ep.ejectionStreak === 0 ? 0 : Math.floor((now - ep.lastEjectionAt) / od.baseEjectionMs) - ep.ejectionStreak
  ep.ejectionStreak = Math.max(0, ep.ejectionStreak - Math.max(0, forgiven)) + 1
  const durationMs = Math.min(od.baseEjectionMs * ep.ejectionStreak, od.maxEjectionMs)
  ep.ejected = true
  ep.ejectedUntil = now + durationMs
  ep.lastEjectionAt = now
  ep.ejections++
  emit('endpoint:ejected', { id: ep.id, durationMs, ejections: ep.ejections })
  ep.ejectionTimer = setTimeout(() => {
    ep.ejectionTimer = undefined
    ep.ejected = false
    ep.consecutiveFailures = 0
    emit('endpoint:restored', { id: ep.id, reason: 'ejection-ended' })
    onReturn(ep)
  }, durationMs)
  ep.ejectionTimer.unref?.()
}
