import { principalMatcher } from './auth/principal.js'
import { auditResource } from './audit/audit-resource.js'
import type { AuditLog } from './audit/audit-log.js'
import { peerOf } from './bootstrap.js'
import type { McpNodeConfig } from './config.js'
import type { LayeredPolicy } from './control-plane/layered-policy.js'
import { controlPlane } from './control-plane/peer-control.js'
import { events, type MeshEvents } from './events/events-module.js'
import type { CallLimiter } from './limits/limiter.js'
import { limitsFeature } from './limits/limits-feature.js'
import { meshStatus } from './mesh-status.js'
import type { NodeMetrics } from './metrics.js'
import type { NodeModuleFactory } from './module.js'
import { schedulerFeature } from './scheduler/scheduler-module.js'
import type { ServerTrust } from './trust/server-trust.js'
import { trustFeature } from './trust/trust-feature.js'

/**
 * The features this peer is made of, in start order (see docs/architecture.md: a new
 * feature is a module in its own file or folder, added here).
 */
export function features (c: McpNodeConfig, d: { policy: LayeredPolicy, metrics: NodeMetrics, access: Access, trust: ServerTrust }, onEvents: (api: MeshEvents | undefined) => void): NodeModuleFactory[] {
  const { policy, metrics, access, trust } = d
  const scheduler = schedulerFeature()
  const readers = c.audit.readers.map(principalMatcher)
  const serverTrust = trustFeature({ trust, metrics: metrics.registry })
  return [
    meshStatus(),
    limitsFeature({ config: c.limits, limiter: access.limiter, onStats: (stats) => { access.gossipStats = stats } }),
    auditResource({ audit: access.audit, mayRead: (principal) => policy.isAdmin(principal) || readers.some((re) => re.test(principal)) }),
    controlPlane({
      config: c.controlPlane, dataDir: c.dataDir, bootstrapPeers: c.bootstrap.map(peerOf), stdioOnly: c.stdio && !c.http.enabled,
      localPolicy: c.policy, policy, metrics: metrics.registry, modules: [scheduler.state], onPlane: (plane) => { scheduler.attach(plane); serverTrust.attach(plane) },
    }),
    serverTrust.factory,
    scheduler.factory,
    events({ config: c.events, dataDir: c.dataDir, authorize: (principal, what) => policy.check(principal, what), onReady: onEvents }),
  ]
}

/** The limiter and the audit log: made with the node, so they outlive restarts of what runs. */
export interface Access {
  limiter: CallLimiter
  audit: AuditLog
  gossipStats?: { sent: number, received: number, rejected: number }
}

