import type { LimitsConfig } from '../config.js'
import { childOf } from '../logger.js'
import type { NodeComponents, NodeModule } from '../module.js'
import type { CallLimiter } from './limiter.js'
import { UsageGossip } from './usage-gossip.js'

/**
 * Mesh-wide limits as a node module: gossips this peer's usage of the replicated policy's
 * per-principal limits on `p2p-mcp/limits/1` and feeds the others' to the limiter (decision 0181).
 */
export function limitsFeature (init: { config: LimitsConfig, limiter: CallLimiter, onStats?: (stats: UsageGossip['stats']) => void }): (components: NodeComponents) => NodeModule {
  return (components) => {
    const gossip = new UsageGossip({
      pubsub: components.libp2p.services.pubsub,
      limiter: init.limiter,
      intervalMs: init.config.shareIntervalMs,
      logger: childOf(components.logger, { component: 'limits' }),
    })
    init.onStats?.(gossip.stats)
    return {
      name: 'limits',
      start: () => { gossip.start(); return Promise.resolve() },
      stop: () => { gossip.stop(); return Promise.resolve() },
    }
  }
}
