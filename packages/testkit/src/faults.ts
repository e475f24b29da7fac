import type { Libp2p } from '@libp2p/interface'

/**
 * Cuts every connection between `a` and `b` at once, as a dead link would: the
 * connections are aborted (no graceful close), so both sides see their streams reset.
 * Returns how many connections were cut.
 */
export function cutConnections (a: Libp2p, b: Libp2p, reason = 'connection cut by testkit'): number {
  const connections = a.getConnections(b.peerId)
  for (const connection of connections) connection.abort(new Error(reason))
  return connections.length
}
