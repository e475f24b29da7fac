import { gossipsub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { ping } from '@libp2p/ping'
import {
  DEFAULT_MAX_CLOCK_SKEW_MS, DEFAULT_MAX_RECORD_BYTES, DEFAULT_MAX_TRACKED_PEERS, DHT_PROTOCOL, PING_MAX_STREAMS,
  RECORD_NAMESPACE, REGISTRY_GOSSIP,
} from './constants.js'
import { MalformedRecordError, StaleRecordError } from './errors.js'
import { peerIdOfRecordKey } from './keys.js'
import { decodeRecord } from './record.js'
import type { RecordSigner } from './record.js'
import { SequenceBook } from './sequence-book.js'
import { positiveInteger } from './validate.js'
import type { GossipSub, GossipSubComponents, GossipsubOpts } from '@libp2p/gossipsub'
import type { Identify, IdentifyComponents, IdentifyInit } from '@libp2p/identify'
import type { KadDHT, KadDHTComponents, KadDHTInit, SelectFn, ValidateFn } from '@libp2p/kad-dht'
import type { Ping, PingComponents, PingInit } from '@libp2p/ping'
import type { PrivateKey } from '@libp2p/interface'

/** Limits shared by the DHT validator and selector. */
export interface RecordValidatorInit {
  /** @default 65536 */
  maxRecordBytes?: number
  /** @default 60000 */
  maxClockSkewMs?: number
  /** Highest sequence numbers remembered for replay protection. @default 10000 */
  maxTrackedPeers?: number
  /** @default Date.now */
  now?: () => number
}

/**
 * The kad-dht validator for `/p2p-mcp/<peerId>` records: size, schema, signature by the key of
 * the peer the key names, expiry, and no sequence lower than one this node already accepted for
 * that peer (a replay). Throws a typed error; kad-dht then refuses the record.
 */
export function registryValidator (init: RecordValidatorInit = {}): ValidateFn {
  const maxRecordBytes = positiveInteger('maxRecordBytes', init.maxRecordBytes, DEFAULT_MAX_RECORD_BYTES)
  const book = new SequenceBook(positiveInteger('maxTrackedPeers', init.maxTrackedPeers, DEFAULT_MAX_TRACKED_PEERS))
  const now = init.now ?? Date.now
  return async (key, value) => {
    const peerId = peerIdOfRecordKey(key)
    if (peerId === undefined) throw new MalformedRecordError(`DHT key ${JSON.stringify(new TextDecoder().decode(key.subarray(0, 200)))} is not /${RECORD_NAMESPACE}/<peerId>`)
    const descriptor = await decodeRecord(value, {
      maxRecordBytes, expectedPeerId: peerId, now: now(), maxClockSkewMs: init.maxClockSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS,
    })
    if (!book.offer(peerId, descriptor.seq)) throw new StaleRecordError(peerId, descriptor.seq, book.get(peerId) ?? 0)
  }
}

/** The kad-dht selector for `/p2p-mcp/<peerId>` records: the valid record with the highest sequence. */
export function registrySelector (init: RecordValidatorInit = {}): SelectFn {
  const now = init.now ?? Date.now
  return async (key, records) => {
    const expectedPeerId = peerIdOfRecordKey(key)
    let best = 0
    let bestSeq = -1
    for (let i = 0; i < records.length; i++) {
      const record = records[i]
      if (record === undefined) continue
      try {
        const d = await decodeRecord(record, { expectedPeerId, now: now(), maxRecordBytes: init.maxRecordBytes, maxClockSkewMs: init.maxClockSkewMs })
        if (d.seq > bestSeq) {
          bestSeq = d.seq
          best = i
        }
      } catch {
        // an invalid record never wins
      }
    }
    return best
  }
}

/** Options of {@link registryServices}; each part is merged over this package's defaults. */
export interface RegistryServicesInit extends RecordValidatorInit {
  /** kad-dht options. Defaults: protocol `/p2p-mcp/kad/1.0.0`, clientMode false, passthroughMapper, our validator and selector. */
  dht?: KadDHTInit
  /**
   * gossipsub options. Defaults: `REGISTRY_GOSSIP` (D 6, Dlo 4, Dhi 10, Dout 2, Dlazy 6, gossipFactor 0.25,
   * heartbeatInterval 200 ms, mcacheLength 6, mcacheGossip 3, floodPublish true), emitSelf false,
   * allowPublishToZeroTopicPeers true, scoreParams.IPColocationFactorWeight 0.
   */
  pubsub?: Partial<GossipsubOpts>
  /** ping options. Defaults: maxInboundStreams 8, maxOutboundStreams 8. */
  ping?: PingInit
  identify?: IdentifyInit
}

/**
 * A service that signs registry records with the node's own key (libp2p hands services the key;
 * the node does not expose it otherwise). It signs nothing but what the registry gives it.
 */
export function registrySigner (): (components: { privateKey: PrivateKey }) => RecordSigner {
  return ({ privateKey }) => ({
    publicKey: privateKey.publicKey,
    sign: async (data: Uint8Array) => privateKey.sign(data),
  })
}

/** The libp2p services the registry needs, as `createLibp2p({ services })` takes them (a type alias: libp2p wants an index signature). */
export type RegistryServiceFactories = {
  registrySigner: (components: { privateKey: PrivateKey }) => RecordSigner
  identify: (components: IdentifyComponents) => Identify
  ping: (components: PingComponents) => Ping
  dht: (components: KadDHTComponents) => KadDHT
  pubsub: (components: GossipSubComponents) => GossipSub
}

/** The services of a node created with `registryServices()`: `Libp2p<RegistryServices>`. */
export type RegistryServices = {
  registrySigner: RecordSigner
  identify: Identify
  ping: Ping
  dht: KadDHT
  pubsub: GossipSub
}

/**
 * identify, ping, kad-dht and gossipsub configured for a private p2p-mcp mesh: a DHT of its own
 * (`/p2p-mcp/kad/1.0.0`) in server mode that keeps private and loopback addresses, with this
 * package's record validator and selector; ping limits a DHT does not exceed; gossipsub without
 * the IP-colocation penalty that silences peers sharing one address.
 */
export function registryServices (init: RegistryServicesInit = {}): RegistryServiceFactories {
  const limits: RecordValidatorInit = {
    maxRecordBytes: init.maxRecordBytes, maxClockSkewMs: init.maxClockSkewMs, maxTrackedPeers: init.maxTrackedPeers, now: init.now,
  }
  return {
    registrySigner: registrySigner(),
    identify: identify(init.identify),
    ping: ping({ maxInboundStreams: PING_MAX_STREAMS, maxOutboundStreams: PING_MAX_STREAMS, ...init.ping }),
    dht: kadDHT({
      protocol: DHT_PROTOCOL,
      clientMode: false,
      peerInfoMapper: passthroughMapper,
      ...init.dht,
      validators: { ...init.dht?.validators, [RECORD_NAMESPACE]: registryValidator(limits) },
      selectors: { ...init.dht?.selectors, [RECORD_NAMESPACE]: registrySelector(limits) },
    }),
    pubsub: gossipsub({
      ...REGISTRY_GOSSIP,
      emitSelf: false,
      allowPublishToZeroTopicPeers: true,
      ...init.pubsub,
      scoreParams: { IPColocationFactorWeight: 0, ...init.pubsub?.scoreParams },
    }),
  }
}
