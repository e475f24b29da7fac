import { peerIdFromString } from '@libp2p/peer-id'
import type { McpNodeConfig } from './config.js'
import { ConfigError } from './errors.js'
import { isLoopbackAddr } from './identity.js'

/**
 * A mesh is private by default (DESIGN, Trust): a peer that listens on anything but loopback
 * needs a swarm key or an allow-list, and an HTTP front door off loopback needs tokens, unless
 * the config asks for an open mesh by name. Throws `ConfigError` naming the field.
 */
export function checkExposure (c: McpNodeConfig): void {
  const exposed = c.listen.filter((a) => !isLoopbackAddr(a))
  if (exposed.length > 0 && c.psk === undefined && (c.allowPeers === undefined || c.allowPeers.length === 0) && !c.open) {
    throw new ConfigError('listen', `${exposed[0]} is not a loopback address: a private mesh needs "psk" (a swarm key) or "allowPeers" (peer ids), or "open: true" to run an open mesh on purpose`)
  }
  for (const [i, p] of (c.allowPeers ?? []).entries()) {
    try { peerIdFromString(p) } catch { throw new ConfigError(`allowPeers.${i}`, `${JSON.stringify(p)} is not a peer id (12D3Koo…)`) }
  }
  if (c.http.enabled && !['127.0.0.1', 'localhost', '::1'].includes(c.http.host) && c.http.tokens.length === 0 && !c.open) {
    throw new ConfigError('http.host', `${c.http.host} is not loopback: set http.tokens (bearer tokens) or "open: true"`)
  }
}
