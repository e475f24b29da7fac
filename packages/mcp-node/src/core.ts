import type { CallToolResult, ReadResourceResult, Resource, Tool } from '@modelcontextprotocol/sdk/types.js'
import type { ClientPool } from '@p2p-mcp/client-pool'
import type { MeshCatalog } from './catalog.js'
import type { Logger } from './logger.js'
import type { Policy } from './policy.js'
import type { FrontSession } from './session.js'
import type { LocalUpstream } from './upstream.js'

/** What a front-door session needs from the node (internal). */
export interface NodeCore {
  readonly peerId: string
  readonly log: Logger
  readonly policy: Policy
  readonly catalog: MeshCatalog
  readonly upstreams: ReadonlyMap<string, LocalUpstream>
  readonly sessions: Set<FrontSession>
  readonly pageSize: number
  readonly draining: boolean
  pool: (server: string) => ClientPool | undefined
  meshTools: () => Tool[]
  meshResources: () => Resource[]
  readMeshResource: (uri: string) => ReadResourceResult | undefined
  callMeshTool: (name: string, args: Record<string, unknown> | undefined, principal: string) => Promise<CallToolResult>
  timeoutOf: (tool: string) => number
  callStarted: () => void
  callFinished: (tool: string, peer: string, outcome: string, seconds: number) => void
}
