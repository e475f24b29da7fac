import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import { MESH_SERVER } from './constants.js'
import type { NodeComponents, NodeModule, NodeModuleFactory } from './module.js'

const json = (uri: string, value: unknown): { contents: Array<{ uri: string, mimeType: string, text: string }> } =>
  ({ contents: [{ uri, mimeType: 'application/json', text: JSON.stringify(value, null, 2) }] })

/** The peers of the mesh as this peer knows them. */
export function meshPeers (c: NodeComponents): Array<Record<string, unknown>> {
  const connected = new Set(c.libp2p.getPeers().map((p) => p.toString()))
  return c.registry.providers().map((p) => ({
    peerId: p.peerId,
    self: p.source === 'self',
    connected: p.source === 'self' || connected.has(p.peerId),
    multiaddrs: p.descriptor.multiaddrs,
    servers: p.descriptor.servers.map((s) => s.name),
    load: p.descriptor.load,
    source: p.source,
  }))
}

/** The tools of the mesh, their replicas, and how many calls each replica served here. */
export function meshToolsServed (c: NodeComponents): Array<Record<string, unknown>> {
  const { catalog, calls } = c.router
  return catalog.tools.map((t) => ({
    name: t.name,
    server: t.server,
    replicas: catalog.groups.get(t.server)?.providers ?? [],
    served: calls.served(t.name),
  }))
}

/** Everything `mesh__status` returns. */
export function meshStatusOf (c: NodeComponents): Record<string, unknown> {
  const { catalog, calls } = c.router
  return {
    peerId: c.peerId,
    multiaddrs: c.multiaddrs(),
    http: c.httpUrl()?.href,
    health: c.health(),
    peers: meshPeers(c),
    servers: [...catalog.groups.values()].map((g) => ({
      name: g.name, version: g.version, fingerprint: g.fingerprint.slice(0, 16), replicas: g.providers, loaded: g.loaded, tools: g.tools.length,
      conflictingDefinitions: g.conflicting.length,
      pool: c.router.existingPool(g.name)?.stats().endpoints.map((e) => ({ peer: e.id, state: e.state, breaker: e.breaker, inFlight: e.inFlight, ewmaLatencyMs: e.ewmaLatencyMs, requests: e.requests, failures: e.failures, sessions: e.sessions })),
    })),
    tools: meshToolsServed(c),
    upstreams: [...c.hosted()].map((u) => ({ name: u.name, status: u.status, restarts: u.restarts, tools: u.tools.length, inFlight: u.inFlight })),
    sessions: c.router.sessionCount,
    inFlightCalls: calls.inFlight,
  }
}

/**
 * The built-in status module: `mesh__status` (this peer, its health, the peers with their
 * load, the servers with their replicas and pool state, calls served per replica) and the
 * `mesh://peers` and `mesh://tools` resources.
 */
export function meshStatus (): NodeModuleFactory {
  return (c): NodeModule => ({
    name: 'mesh-status',
    tools: [{
      tool: {
        name: `${MESH_SERVER}__status`,
        title: 'Mesh status',
        description: 'This peer, its health, the peers of the mesh with their load, the servers with their replicas and pool state, and which replica served how many calls of each tool.',
        inputSchema: { type: 'object', properties: {} },
        annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
      },
      call: async (): Promise<CallToolResult> => {
        const status = meshStatusOf(c)
        return await Promise.resolve({ content: [{ type: 'text', text: JSON.stringify(status, null, 2) }], structuredContent: status })
      },
    }],
    resources: [
      { resource: { uri: 'mesh://peers', name: `${MESH_SERVER}__peers`, title: 'Peers of the mesh', mimeType: 'application/json' }, read: () => json('mesh://peers', meshPeers(c)) },
      { resource: { uri: 'mesh://tools', name: `${MESH_SERVER}__tools`, title: 'Tools of the mesh and who served them', mimeType: 'application/json' }, read: () => json('mesh://tools', meshToolsServed(c)) },
    ],
  })
}
