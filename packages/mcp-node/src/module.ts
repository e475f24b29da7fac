import type { Libp2p } from '@libp2p/interface'
import type { Registry, RegistryServices } from '@p2p-mcp/dht-registry'
import type { NodeHealth } from './health.js'
import type { Logger } from './logger.js'
import type { BuiltinResource, BuiltinResourceTemplate, BuiltinTool } from './mesh-tools.js'
import type { MeshRouter } from './router.js'
import type { LocalUpstream } from './upstream.js'

// Feature modules name their tools and resources with these (they live in mesh-tools.ts, where used).
export type { BuiltinResource, BuiltinResourceTemplate, BuiltinTool }

/**
 * What a node module is given when the node starts: the parts of the peer it may use. A
 * module reads through these; it never reaches into `McpNode`.
 */
export interface NodeComponents {
  readonly peerId: string
  readonly libp2p: Libp2p<RegistryServices>
  readonly registry: Registry
  readonly router: MeshRouter
  readonly logger: Logger
  /** The upstreams this peer hosts. */
  readonly hosted: () => Iterable<LocalUpstream>
  readonly health: () => NodeHealth
  readonly multiaddrs: () => string[]
  readonly httpUrl: () => URL | undefined
  /** Signs with this peer's libp2p key (records the peer vouches for, such as its events). */
  readonly sign: (data: Uint8Array) => Promise<Uint8Array>
}

/**
 * A feature of the peer: the room each one lives in (the control plane, the scheduler,
 * events, auth, the dashboard, the built-in status tools). `node.ts` only creates it from
 * its factory, starts and stops it in order, and merges what it contributes:
 * built-in `mesh__*` tools and resources, and reasons for a degraded health. The feature's
 * logic stays in its own file or folder under `src/` (see docs/architecture.md).
 */
export interface NodeModule {
  /** Short name, for logs. */
  readonly name: string
  readonly tools?: readonly BuiltinTool[]
  readonly resources?: readonly BuiltinResource[]
  readonly resourceTemplates?: readonly BuiltinResourceTemplate[]
  /** Called once libp2p, the registry and the router run, before the front doors open. */
  start?: () => Promise<void>
  /** Called after the front doors closed and before libp2p stops. Idempotent. */
  stop?: () => Promise<void>
  /** Why this module makes the peer degraded now (empty when it does not). */
  healthReasons?: () => string[]
}

/** Creates a module from the node's components (the libp2p service-factory pattern). */
export type NodeModuleFactory = (components: NodeComponents) => NodeModule
