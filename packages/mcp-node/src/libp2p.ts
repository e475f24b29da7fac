import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { Libp2p, PeerId, PrivateKey } from '@libp2p/interface'
import { preSharedKey } from '@libp2p/pnet'
import { tcp } from '@libp2p/tcp'
import { registry, registryServices, type Registry, type RegistryInit, type RegistryServices } from '@p2p-mcp/dht-registry'
import { createLibp2p, type Libp2pOptions } from 'libp2p'
import type { McpNodeConfig } from './config.js'
import { isLoopbackAddr, loadPsk } from './identity.js'

/** The libp2p node of a peer: the registry's services plus the registry itself. */
export type PeerServices = RegistryServices & { registry: Registry }

/**
 * Creates (not starts) the peer's libp2p node: TCP, Noise, yamux, the private network key or
 * peer allow-list of the config, the banned peers refused, loopback connections never rate-limited on a loopback-only
 * peer, and the registry as a service.
 */
export async function createPeerLibp2p (c: McpNodeConfig, init: { privateKey: PrivateKey, datastore?: Libp2pOptions['datastore'], registry: RegistryInit, banned?: (peerId: string) => boolean }): Promise<Libp2p<PeerServices>> {
  const psk = c.psk === undefined ? undefined : await loadPsk(c.psk)
  const allowPeers = c.allowPeers === undefined ? undefined : new Set(c.allowPeers)
  const banned = init.banned ?? (() => false)
  // Banned peers (revocation) are refused before and after encryption; the allow-list, if any, applies too.
  const deny = (peer: PeerId): boolean => banned(peer.toString()) || (allowPeers !== undefined && !allowPeers.has(peer.toString()))
  const loopbackOnly = c.listen.every(isLoopbackAddr)
  return await createLibp2p({
    privateKey: init.privateKey,
    ...(init.datastore === undefined ? {} : { datastore: init.datastore }),
    addresses: { listen: c.listen },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    ...(psk === undefined ? {} : { connectionProtector: preSharedKey({ psk }) }),
    connectionGater: {
      denyDialMultiaddr: () => false,
      denyDialPeer: deny,
      denyInboundEncryptedConnection: deny,
      denyOutboundEncryptedConnection: deny,
    },
    connectionManager: loopbackOnly ? { allow: ['/ip4/127.0.0.0/ipcidr/8', '/ip6/::1/ipcidr/128'] } : {},
    services: { ...registryServices({ pubsub: { heartbeatInterval: 200 } }), registry: registry(init.registry) },
  })
}
