import type { LocalUpstream } from './upstream.js'

/** Health, as `/healthz` reports it: degraded with the reasons, never "ok" while nothing is served. */
export interface NodeHealth {
  status: 'ok' | 'degraded' | 'stopping'
  reasons: string[]
  peerId: string
  peers: number
  tools: number
  upstreams: Array<{ name: string, status: string, restarts: number, error?: string }>
  bootstrap: Array<{ addr: string, connected: boolean, attempts: number, error?: string }>
}

/** What health is computed from. */
export interface HealthInputs {
  stopping: boolean
  peerId: string
  peers: number
  tools: number
  hosted: Iterable<LocalUpstream>
  bootstrap: NodeHealth['bootstrap']
  /** Reasons the node's modules give. */
  reasons: string[]
}

/** Honest health: degraded, with the reasons, when there are no peers, no tools, or a hosted upstream is down. */
export function nodeHealth (h: HealthInputs): NodeHealth {
  const reasons: string[] = []
  if (h.stopping) reasons.push('shutting down')
  if (h.peers === 0) reasons.push('no connected peers')
  if (h.tools === 0) reasons.push('no tools served: no MCP server of the mesh is reachable')
  const upstreams = [...h.hosted].map((u) => ({ name: u.name, status: u.status, restarts: u.restarts, ...(u.lastError === undefined ? {} : { error: u.lastError }) }))
  for (const u of upstreams) if (u.status !== 'up') reasons.push(`upstream ${u.name} is ${u.status}${u.error === undefined ? '' : `: ${u.error}`}`)
  for (const b of h.bootstrap) if (!b.connected) reasons.push(`bootstrap peer ${b.addr} unreachable after ${b.attempts} attempts (retrying)`)
  reasons.push(...h.reasons)
  const status = h.stopping ? 'stopping' : reasons.length === 0 ? 'ok' : 'degraded'
  return { status, reasons, peerId: h.peerId, peers: h.peers, tools: h.tools, upstreams, bootstrap: h.bootstrap }
}
