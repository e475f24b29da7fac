import { TopicValidatorResult } from '@libp2p/gossipsub'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { TypedEventEmitter } from 'main-event'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { hash53, pullSync, serveSync, setDigest } from './anti-entropy.js'
import type { SyncLimits, SyncSource } from './anti-entropy.js'
import { canonicalJson, schemaHash } from './canonical-json.js'
import {
  DEFAULT_DHT_GET_CONCURRENCY, DEFAULT_DHT_PUBLISH_TIMEOUT_MS, DEFAULT_DHT_TIMEOUT_MS, DEFAULT_FIND_LIMIT, DEFAULT_HEARTBEAT_INTERVAL_MS,
  DEFAULT_MAX_CLOCK_SKEW_MS, DEFAULT_MAX_RECORD_BYTES, DEFAULT_MAX_TRACKED_PEERS, DEFAULT_MISSED_HEARTBEATS,
  DEFAULT_REANNOUNCE_DELAYS_MS, DEFAULT_RECORD_TTL_MS, DEFAULT_SYNC_TIMEOUT_MS, MAX_ANTI_ENTROPY_INTERVAL_MS, MAX_SWEEP_INTERVAL_MS,
  MIN_SWEEP_INTERVAL_MS, RECORD_VERSION, REGISTRY_TOPIC, SYNC_MAX_INBOUND_STREAMS, SYNC_PROTOCOL,
} from './constants.js'
import { FailureDetector } from './failure-detector.js'
import type { LivenessEventDetail } from './failure-detector.js'
import { decodeObituary, encodeObituary } from './obituary.js'
import type { Obituary } from './obituary.js'
import { DescriptorSchema, LoadSchema } from './descriptor.js'
import {
  InvalidDescriptorError, InvalidParametersError, MissingServiceError, RecordTooLargeError, RegistryNotStartedError,
  StaleRecordError, isRecordError,
} from './errors.js'
import { providerCid, recordKey } from './keys.js'
import { noopLogger } from './logger.js'
import { compareScores, matches, scoreOf } from './ranking.js'
import { decodeRecord, encodeRecord } from './record.js'
import type { RecordSigner } from './record.js'
import { SequenceBook } from './sequence-book.js'
import { nonNegativeInteger, positiveInteger } from './validate.js'
import type {
  Descriptor, FindOptions, FindQuery, Load, Logger, ProviderMatch, ProviderSource, PublishInput, PublishResult,
  RegistryEvents, RegistryInit, RegistryStats, RemovalReason, ServerEntry,
} from './types.js'
import type { GossipSub, Message } from '@libp2p/gossipsub'
import { serviceDependencies } from '@libp2p/interface'
import type { AbortOptions, ComponentLogger, Connection, ContentRouting, Libp2p, PeerId, Stream, StreamHandler } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { KadDHT } from '@libp2p/kad-dht'
import type { CID } from 'multiformats/cid'

/** The services a node must have for the registry (see `registryServices()`). */
// a type alias, not an interface: libp2p's ServiceMap needs an index signature
export type RegistryServiceMap = {
  dht: KadDHT
  pubsub: GossipSub
  /** Signs with the node's key; absent only when `init.privateKey` is given. */
  registrySigner?: RecordSigner
  /** Probes silent providers (the failure detector); without it silence alone decides. */
  ping?: { ping: (target: PeerId | Multiaddr[], options?: AbortOptions) => Promise<number> }
}

/** A running registry: publish this peer's descriptor, find providers, hear of changes. */
export interface Registry extends TypedEventEmitter<RegistryEvents> {
  /** Subscribes to the registry topic and starts the expiry sweep. Idempotent. */
  start: () => Promise<void>
  /** Stops heartbeats, republishing and the sweep, unsubscribes and empties the cache (no events). Idempotent. */
  stop: () => Promise<void>
  /** Signs and announces this peer's descriptor, puts it into the DHT and provides its keys; later heartbeats repeat it. */
  publish: (input: PublishInput, options?: AbortOptions) => Promise<PublishResult>
  /** Announces a last, withdrawn record, stops heartbeats and stops reproviding this peer's keys. */
  unpublish: (options?: AbortOptions) => Promise<void>
  /** Sets the load the next heartbeat carries. */
  setLoad: (load: Load) => void
  /** Providers of what the query names, best first: from the cache, else from the DHT. */
  find: (query: FindQuery, options?: FindOptions) => Promise<ProviderMatch[]>
  /** Every provider in the cache (including this peer once published). */
  providers: () => ProviderMatch[]
  /**
   * The failure detector that decides when a provider is dead (heartbeats + libp2p connection
   * state): share it with whatever else needs one definition of a dead peer.
   */
  readonly liveness: FailureDetector
  /** This peer's current descriptor, once published. */
  readonly descriptor: Descriptor | undefined
  stats: () => RegistryStats
}

interface Entry {
  descriptor: Descriptor
  fingerprint: string
  /** Hash of the fingerprint, for the anti-entropy digest. */
  content: number
  /** The signed record as received, for anti-entropy. */
  bytes: Uint8Array
  source: ProviderSource
}


function errorText (err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err)
}

/** What a provider serves and offers: everything but sequence, times and load. */
function fingerprintOf (d: Descriptor): string {
  return canonicalJson({
    multiaddrs: d.multiaddrs, servers: d.servers, capabilities: d.capabilities, resources: d.resources,
    accessPolicy: d.accessPolicy, sla: d.sla, heartbeatIntervalMs: d.heartbeatIntervalMs,
  })
}

function validateFindQuery (q: FindQuery): void {
  if (typeof q !== 'object' || q === null) throw new InvalidParametersError('find() query', q, 'an object { server?, tool?, capabilities?, requirements? }')
  if (q.server !== undefined && typeof q.server !== 'string') throw new InvalidParametersError('query.server', q.server, 'a string')
  if (q.tool !== undefined && typeof q.tool !== 'string') throw new InvalidParametersError('query.tool', q.tool, 'a string')
  if (q.capabilities !== undefined && !(Array.isArray(q.capabilities) && q.capabilities.every((c) => typeof c === 'string'))) {
    throw new InvalidParametersError('query.capabilities', q.capabilities, 'an array of strings')
  }
}

/**
 * What the registry takes from a libp2p node: libp2p hands these to a service factory as its
 * components (`registry(init)(components)`); `createRegistry(node)` reads them off a node.
 */
export interface RegistryComponents {
  peerId: PeerId
  /** Signs records; libp2p's `privateKey` component, or the `registrySigner` service. */
  privateKey?: RecordSigner
  logger?: ComponentLogger
  addressManager: { getAddresses: () => Multiaddr[] }
  contentRouting: Pick<ContentRouting, 'provide'>
  dht: KadDHT
  pubsub: GossipSub
  /** Serves the anti-entropy protocol; without it (and `connectionManager`) there is no anti-entropy. */
  registrar?: {
    handle: (protocol: string, handler: StreamHandler, options?: { maxInboundStreams?: number }) => Promise<void>
    unhandle: (protocol: string) => Promise<void>
  }
  /** Opens anti-entropy streams and tells the failure detector whether a connection is open. */
  connectionManager?: {
    openStream: (peer: PeerId, protocol: string, options?: AbortOptions) => Promise<Stream>
    getConnections: (peer?: PeerId) => Connection[]
  }
  /** Probes silent peers; without it silence alone decides. */
  ping?: { ping: (target: PeerId | Multiaddr[], options?: AbortOptions) => Promise<number> }
  /** libp2p's events: `peer:disconnect` makes the failure detector probe a provider at once. */
  events?: {
    addEventListener: (type: 'peer:disconnect', listener: (evt: CustomEvent<PeerId>) => void) => void
    removeEventListener: (type: 'peer:disconnect', listener: (evt: CustomEvent<PeerId>) => void) => void
  }
}

/** Our logger on top of libp2p's component logger (debug-style: one function, plus `error`). */
function fromComponentLogger (logger: ComponentLogger): Logger {
  const log = logger.forComponent('p2p-mcp:dht-registry')
  const debug = (msg: string, ...args: unknown[]): void => { log(msg, ...args) }
  return { debug, info: debug, warn: debug, error: (msg: string, ...args: unknown[]) => { log.error(msg, ...args) } }
}

class DhtRegistry extends TypedEventEmitter<RegistryEvents> implements Registry {
  private readonly c: RegistryComponents
  /** Created by `registry()` as a libp2p service: started by the node once its other services run. */
  private readonly asService: boolean
  private readonly heartbeatIntervalMs: number
  private readonly missedHeartbeats: number
  private readonly recordTtlMs: number
  private readonly republishIntervalMs: number
  private readonly maxRecordBytes: number
  private readonly maxClockSkewMs: number
  private readonly dhtTimeoutMs: number
  private readonly dhtPublishTimeoutMs: number
  private readonly loadFn: (() => Load) | undefined
  private readonly log: Logger
  private readonly now: () => number
  private readonly selfId: string
  private readonly signer: RecordSigner

  private readonly entries = new Map<string, Entry>()
  /** Peers declared dead, with when: a record issued before that is a late copy and must not bring them back. */
  private readonly tombstones = new Map<string, number>()
  /** Peers probed because another peer reported them dead. */
  private readonly prompted = new Set<string>()
  readonly liveness: FailureDetector
  private readonly ownsLiveness: boolean
  private readonly antiEntropyIntervalMs: number
  private readonly reannounceDelaysMs: readonly number[]
  private readonly syncLimits: SyncLimits
  private digestCache: string | undefined
  private ownContent: number | undefined
  private syncTimer: ReturnType<typeof setInterval> | undefined
  private syncing = false
  private handlingSync = false
  private readonly reannounceTimers = new Set<ReturnType<typeof setTimeout>>()
  private readonly book: SequenceBook
  private readonly validated = new WeakMap<Uint8Array, Descriptor>()
  private readonly validatedObituaries = new WeakMap<Uint8Array, Obituary>()
  private readonly counters: Omit<RegistryStats, 'providers'> = {
    gossipAccepted: 0, gossipRejected: 0, gossipIgnored: 0, heartbeatsSent: 0, cacheFinds: 0, dhtFinds: 0,
    dhtProvidersSeen: 0, dhtGets: 0, dhtGetFailures: 0, dhtPuts: 0,
    syncRounds: 0, syncRepairs: 0, syncFailures: 0, syncBytesIn: 0, reannouncements: 0, deadPeers: 0, staleAfterDeath: 0,
    obituariesSent: 0, obituariesTaken: 0,
  }

  private started = false
  private content: Omit<Descriptor, 'v' | 'peerId' | 'multiaddrs' | 'seq' | 'issuedAt' | 'expiresAt' | 'heartbeatIntervalMs' | 'load'> | undefined
  private own: Descriptor | undefined
  private ownBytes: Uint8Array | undefined
  private lastSeq = 0
  private pushedLoad: Load = { inFlight: 0, ewmaLatencyMs: 0 }
  private provided: CID[] = []
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined
  private republishTimer: ReturnType<typeof setInterval> | undefined
  private sweepTimer: ReturnType<typeof setInterval> | undefined
  private lifecycle = new AbortController()

  constructor (components: RegistryComponents, init: RegistryInit, asService: boolean) {
    super()
    this.c = components
    this.asService = asService
    this.heartbeatIntervalMs = positiveInteger('heartbeatIntervalMs', init.heartbeatIntervalMs, DEFAULT_HEARTBEAT_INTERVAL_MS)
    this.missedHeartbeats = positiveInteger('missedHeartbeats', init.missedHeartbeats, DEFAULT_MISSED_HEARTBEATS)
    this.recordTtlMs = positiveInteger('recordTtlMs', init.recordTtlMs, DEFAULT_RECORD_TTL_MS)
    if (this.recordTtlMs <= this.heartbeatIntervalMs * this.missedHeartbeats) {
      throw new InvalidParametersError('recordTtlMs', this.recordTtlMs, `more than heartbeatIntervalMs × missedHeartbeats (${this.heartbeatIntervalMs * this.missedHeartbeats})`)
    }
    this.republishIntervalMs = positiveInteger('republishIntervalMs', init.republishIntervalMs, Math.floor(this.recordTtlMs / 2))
    if (this.republishIntervalMs >= this.recordTtlMs) {
      throw new InvalidParametersError('republishIntervalMs', this.republishIntervalMs, `less than recordTtlMs (${this.recordTtlMs}) so the DHT record is renewed before it expires`)
    }
    this.maxRecordBytes = positiveInteger('maxRecordBytes', init.maxRecordBytes, DEFAULT_MAX_RECORD_BYTES)
    this.maxClockSkewMs = nonNegativeInteger('maxClockSkewMs', init.maxClockSkewMs, DEFAULT_MAX_CLOCK_SKEW_MS)
    this.dhtTimeoutMs = positiveInteger('dhtTimeoutMs', init.dhtTimeoutMs, DEFAULT_DHT_TIMEOUT_MS)
    this.dhtPublishTimeoutMs = positiveInteger('dhtPublishTimeoutMs', init.dhtPublishTimeoutMs, DEFAULT_DHT_PUBLISH_TIMEOUT_MS)
    this.book = new SequenceBook(positiveInteger('maxTrackedPeers', init.maxTrackedPeers, DEFAULT_MAX_TRACKED_PEERS))
    this.loadFn = init.load
    this.now = init.now ?? Date.now
    const base = init.logger ?? (components.logger === undefined ? noopLogger : fromComponentLogger(components.logger))
    this.log = base.child?.({ component: 'dht-registry' }) ?? base
    this.selfId = components.peerId.toString()
    const signer = init.privateKey ?? components.privateKey
    if (signer === undefined) throw new MissingServiceError('registrySigner')
    if (!peerIdFromPublicKey(signer.publicKey).equals(components.peerId)) {
      throw new InvalidParametersError('the signing key', signer.publicKey.toString(), `the key of this node (${this.selfId})`)
    }
    this.signer = signer
    const ae = init.antiEntropyIntervalMs ?? Math.min(MAX_ANTI_ENTROPY_INTERVAL_MS, Math.max(MIN_SWEEP_INTERVAL_MS, Math.floor(this.heartbeatIntervalMs / 2)))
    this.antiEntropyIntervalMs = nonNegativeInteger('antiEntropyIntervalMs', ae, 0)
    this.reannounceDelaysMs = (init.reannounceDelaysMs ?? DEFAULT_REANNOUNCE_DELAYS_MS).map((d, i) => nonNegativeInteger(`reannounceDelaysMs[${i}]`, d, 0))
    this.syncLimits = { maxRecordBytes: this.maxRecordBytes, maxRecords: positiveInteger('maxTrackedPeers', init.maxTrackedPeers, DEFAULT_MAX_TRACKED_PEERS), timeoutMs: DEFAULT_SYNC_TIMEOUT_MS }
    this.ownsLiveness = init.failureDetector === undefined
    this.liveness = init.failureDetector ?? new FailureDetector({
      heartbeatIntervalMs: this.heartbeatIntervalMs,
      missedHeartbeats: this.missedHeartbeats,
      ...(init.suspectTimeoutHeartbeats === undefined ? {} : { suspectTimeoutHeartbeats: init.suspectTimeoutHeartbeats }),
      ...(init.probeTimeoutMs === undefined ? {} : { probeTimeoutMs: init.probeTimeoutMs }),
      ...(components.ping === undefined ? {} : { probe: this.probe }),
      isConnected: (peerId) => this.connectionsTo(peerId).some((c) => c.status === 'open'),
      now: this.now,
      logger: this.log,
    })
  }

  private connectionsTo (peerId: string): Connection[] {
    const cm = this.c.connectionManager
    if (cm === undefined) return []
    try {
      return cm.getConnections(peerIdFromString(peerId))
    } catch {
      return []
    }
  }

  /** Pings a silent provider over its connection, or dials the addresses of its last record. */
  private readonly probe = async (peerId: string, signal: AbortSignal): Promise<void> => {
    const ping = this.c.ping
    if (ping === undefined) return
    if (this.connectionsTo(peerId).some((c) => c.status === 'open')) {
      await ping.ping(peerIdFromString(peerId), { signal })
      return
    }
    const addrs = (this.entries.get(peerId)?.descriptor.multiaddrs ?? []).flatMap((a) => {
      try {
        return [multiaddr(a)]
      } catch {
        return []
      }
    })
    if (addrs.length === 0) throw new Error(`no address of ${peerId} to probe`)
    await ping.ping(addrs, { signal })
  }

  private readonly onDead = (evt: CustomEvent<LivenessEventDetail>): void => {
    const { peerId, reason } = evt.detail
    const e = this.entries.get(peerId)
    if (e === undefined) return
    this.counters.deadPeers++
    this.bury(peerId)
    this.remove(peerId, e, 'missed-heartbeats')
    if (this.ownsLiveness) this.liveness.forget(peerId)
    // found dead on this peer's own initiative: tell the mesh, so that the others probe it now
    // rather than after their own silence (a probe prompted by an obituary is not announced again)
    const prompted = this.prompted.delete(peerId)
    if (!prompted && reason !== undefined && this.started) {
      this.counters.obituariesSent++
      this.c.pubsub.publish(REGISTRY_TOPIC, encodeObituary({ peerId, seq: e.descriptor.seq })).catch((err: unknown) => {
        this.log.debug('obituary of %s not sent: %s', peerId, errorText(err))
      })
    }
  }

  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => {
    const peerId = evt.detail.toString()
    if (this.entries.has(peerId)) this.liveness.connectionClosed(peerId)
  }

  private bury (peerId: string): void {
    this.tombstones.delete(peerId)
    this.tombstones.set(peerId, this.now())
    if (this.tombstones.size > this.syncLimits.maxRecords) {
      const oldest = this.tombstones.keys().next().value
      if (oldest !== undefined) this.tombstones.delete(oldest)
    }
  }

  get descriptor (): Descriptor | undefined {
    return this.own
  }

  start (): Promise<void> {
    // as a service, libp2p starts every service at once: pubsub may not run yet (see afterStart)
    if (this.asService) return Promise.resolve()
    return this.startNow()
  }

  async stop (): Promise<void> {
    await this.stopNow()
  }

  /** libp2p calls this once every service of the node runs. */
  async afterStart (): Promise<void> {
    if (this.asService) await this.startNow()
  }

  readonly [Symbol.toStringTag] = '@p2p-mcp/dht-registry'
  readonly [serviceDependencies]: string[] = ['@libp2p/kad-dht', '@libp2p/pubsub']

  private async startNow (): Promise<void> {
    if (this.started) return
    const { pubsub, dht } = this.c
    if (pubsub === undefined) throw new MissingServiceError('pubsub')
    if (dht === undefined) throw new MissingServiceError('dht')
    this.started = true
    this.lifecycle = new AbortController()
    pubsub.topicValidators.set(REGISTRY_TOPIC, this.validateGossip)
    pubsub.addEventListener('message', this.onGossip)
    pubsub.subscribe(REGISTRY_TOPIC)
    const sweepMs = Math.min(MAX_SWEEP_INTERVAL_MS, Math.max(MIN_SWEEP_INTERVAL_MS, Math.floor(this.heartbeatIntervalMs / 4)))
    this.sweepTimer = setInterval(() => { this.sweep() }, sweepMs)
    this.sweepTimer.unref?.()
    this.liveness.addEventListener('peer:dead', this.onDead)
    this.c.events?.addEventListener('peer:disconnect', this.onDisconnect)
    if (this.ownsLiveness) this.liveness.start()
    const { registrar } = this.c
    if (registrar !== undefined && this.c.connectionManager !== undefined && this.antiEntropyIntervalMs > 0) {
      this.handlingSync = true
      await registrar.handle(SYNC_PROTOCOL, (stream) => { void serveSync(stream, this.syncSource, this.syncLimits, this.log) }, { maxInboundStreams: SYNC_MAX_INBOUND_STREAMS })
      this.syncTimer = setInterval(() => { void this.antiEntropyRound() }, this.antiEntropyIntervalMs)
      this.syncTimer.unref?.()
    }
    if (this.content !== undefined) this.startAnnouncing()
  }

  private async stopNow (): Promise<void> {
    if (!this.started) return
    this.started = false
    this.lifecycle.abort()
    this.stopAnnouncing()
    clearInterval(this.sweepTimer)
    this.sweepTimer = undefined
    clearInterval(this.syncTimer)
    this.syncTimer = undefined
    this.liveness.removeEventListener('peer:dead', this.onDead)
    this.c.events?.removeEventListener('peer:disconnect', this.onDisconnect)
    if (this.ownsLiveness) this.liveness.stop()
    else for (const peerId of this.entries.keys()) this.liveness.forget(peerId)
    if (this.handlingSync) {
      this.handlingSync = false
      await this.c.registrar?.unhandle(SYNC_PROTOCOL).catch((err: unknown) => { this.log.debug('unhandle failed: %s', errorText(err)) })
    }
    this.tombstones.clear()
    this.digestCache = undefined
    const { pubsub } = this.c
    pubsub.removeEventListener('message', this.onGossip)
    if (pubsub.topicValidators.get(REGISTRY_TOPIC) === this.validateGossip) pubsub.topicValidators.delete(REGISTRY_TOPIC)
    try {
      pubsub.unsubscribe(REGISTRY_TOPIC)
    } catch (err) {
      this.log.debug('unsubscribe failed: %s', errorText(err))
    }
    this.entries.clear()
  }

  setLoad (load: Load): void {
    const parsed = LoadSchema.safeParse(load)
    if (!parsed.success) throw new InvalidParametersError('load', load, '{ inFlight: non-negative integer, ewmaLatencyMs: non-negative number }')
    this.pushedLoad = parsed.data
  }

  stats (): RegistryStats {
    return { providers: this.entries.size, ...this.counters }
  }

  /** What the anti-entropy protocol reads and writes. */
  private readonly syncSource: SyncSource = {
    digest: () => {
      this.digestCache ??= setDigest(this.liveContents())
      return this.digestCache
    },
    records: () => {
      const out: Uint8Array[] = []
      if (this.own !== undefined && this.own.withdrawn !== true && this.ownBytes !== undefined) out.push(this.ownBytes)
      for (const e of this.entries.values()) out.push(e.bytes)
      return out
    },
    ingest: async (records, from) => {
      let accepted = 0
      for (const bytes of records) {
        try {
          const d = await decodeRecord(bytes, { maxRecordBytes: this.maxRecordBytes, now: this.now(), maxClockSkewMs: this.maxClockSkewMs })
          if (this.accept(d, 'sync', bytes)) accepted++
        } catch (err) {
          if (isRecordError(err)) this.rejected(from, 'sync', err)
        }
      }
      return accepted
    },
  }

  private * liveContents (): Generator<[string, number]> {
    if (this.own !== undefined && this.own.withdrawn !== true && this.ownContent !== undefined) yield [this.selfId, this.ownContent]
    for (const [peerId, e] of this.entries) yield [peerId, e.content]
  }

  /** One anti-entropy round with a random connected peer. */
  private async antiEntropyRound (): Promise<void> {
    const cm = this.c.connectionManager
    if (cm === undefined || this.syncing || !this.started) return
    const peers = [...new Set(cm.getConnections().filter((c) => c.status === 'open').map((c) => c.remotePeer.toString()))]
    if (peers.length === 0) return
    const peer = peers[Math.floor(Math.random() * peers.length)]!
    this.syncing = true
    try {
      this.counters.syncRounds++
      const r = await pullSync(async (p, o) => cm.openStream(p, SYNC_PROTOCOL, o), peerIdFromString(peer), this.syncSource, this.syncLimits, { signal: this.lifecycle.signal })
      this.counters.syncBytesIn += r.bytes
      if (r.accepted > 0) {
        this.counters.syncRepairs++
        this.log.debug('anti-entropy with %s took %d of %d records', peer, r.accepted, r.received)
      }
    } catch (err) {
      this.counters.syncFailures++
      this.log.debug('anti-entropy with %s failed: %s', peer, errorText(err))
    } finally {
      this.syncing = false
    }
  }

  providers (): ProviderMatch[] {
    const out: ProviderMatch[] = []
    if (this.own !== undefined && this.own.withdrawn !== true) out.push({ peerId: this.selfId, descriptor: this.own, source: 'self', score: scoreOf(this.own, {}) })
    for (const [peerId, e] of this.entries) out.push({ peerId, descriptor: e.descriptor, source: e.source, score: scoreOf(e.descriptor, {}) })
    return out
  }

  async publish (input: PublishInput, options: AbortOptions = {}): Promise<PublishResult> {
    if (!this.started) throw new RegistryNotStartedError('publish')
    const servers = await Promise.all((input.servers ?? []).map(async (s): Promise<ServerEntry> => ({
      name: s.name,
      version: s.version,
      ...(s.title === undefined ? {} : { title: s.title }),
      ...(s.description === undefined ? {} : { description: s.description }),
      ...(s.serverJson === undefined ? {} : { serverJson: s.serverJson }),
      tools: await Promise.all((s.tools ?? []).map(async (t) => ({
        name: t.name,
        ...(t.title === undefined ? {} : { title: t.title }),
        ...(t.description === undefined ? {} : { description: t.description }),
        inputSchemaHash: t.inputSchemaHash ?? await schemaHash(t.inputSchema ?? { type: 'object' }),
        ...(t.outputSchemaHash !== undefined
          ? { outputSchemaHash: t.outputSchemaHash }
          : t.outputSchema === undefined ? {} : { outputSchemaHash: await schemaHash(t.outputSchema) }),
        ...(t.annotations === undefined ? {} : { annotations: t.annotations }),
      }))),
      resourceTemplates: s.resourceTemplates ?? [],
      prompts: s.prompts ?? [],
      ...(s.accessPolicy === undefined ? {} : { accessPolicy: s.accessPolicy }),
    })))
    const previous = this.content
    this.content = {
      servers,
      capabilities: [...new Set(input.capabilities ?? [])].sort(),
      ...(input.resources === undefined ? {} : { resources: input.resources }),
      ...(input.accessPolicy === undefined ? {} : { accessPolicy: input.accessPolicy }),
      ...(input.sla === undefined ? {} : { sla: input.sla }),
    }
    let descriptor: Descriptor
    try {
      descriptor = await this.sign()
    } catch (err) {
      // a bad publish() leaves the previous publication as it was
      this.content = previous
      throw err
    }
    this.startAnnouncing()
    await this.announce()
    if (previous === undefined || canonicalJson(previous) !== canonicalJson(this.content)) this.scheduleReannouncements()
    const dht = Promise.all([this.putInDht(options), this.provideKeys(descriptor, options)])
      .then(([put, provide]) => ({ stored: put.stored, failed: put.failed, provided: provide.provided, provideFailed: provide.failed }))
      .catch((err: unknown) => {
        this.log.warn('DHT part of the publication failed: %s', errorText(err))
        return { stored: 0, failed: 0, provided: 0, provideFailed: 0 }
      })
    return { descriptor, dht }
  }

  async unpublish (options: AbortOptions = {}): Promise<void> {
    if (this.own === undefined || this.content === undefined) return
    this.stopAnnouncing()
    this.content = { servers: [], capabilities: [], withdrawn: true }
    await this.sign()
    await this.announce()
    await this.putInDht(options)
    const provided = this.provided
    this.provided = []
    await Promise.allSettled(provided.map(async (cid) => { await this.c.dht.cancelReprovide(cid, options) }))
    this.content = undefined
  }

  async find (query: FindQuery, options: FindOptions = {}): Promise<ProviderMatch[]> {
    validateFindQuery(query)
    if (!this.started) throw new RegistryNotStartedError('find')
    const limit = positiveInteger('limit', options.limit, DEFAULT_FIND_LIMIT)
    const minResults = nonNegativeInteger('minResults', options.minResults, 1)
    const results = this.findInCache(query, options.includeSelf ?? true)
    if (results.length >= minResults || options.dht === false) {
      this.counters.cacheFinds++
      return results.slice(0, limit)
    }
    const found = await this.findInDht(query, limit, options.signal)
    const known = new Set(results.map((r) => r.peerId))
    results.push(...found.filter((r) => !known.has(r.peerId)))
    results.sort((a, b) => compareScores(a.score, b.score) || (a.peerId < b.peerId ? -1 : 1))
    return results.slice(0, limit)
  }

  private findInCache (query: FindQuery, includeSelf: boolean): ProviderMatch[] {
    const now = this.now()
    const out: ProviderMatch[] = []
    if (includeSelf && this.own !== undefined && matches(this.own, query)) {
      out.push({ peerId: this.selfId, descriptor: this.own, score: scoreOf(this.own, query), source: 'self' })
    }
    for (const [peerId, e] of this.entries) {
      if (e.descriptor.expiresAt <= now || !matches(e.descriptor, query)) continue
      out.push({ peerId, descriptor: e.descriptor, score: scoreOf(e.descriptor, query), source: e.source })
    }
    out.sort((a, b) => compareScores(a.score, b.score) || (a.peerId < b.peerId ? -1 : 1))
    return out
  }

  /** The key a DHT lookup for this query uses: the tool, else the server, else a capability. */
  private async lookupCid (query: FindQuery): Promise<CID | undefined> {
    if (query.tool !== undefined) return providerCid('tool', query.tool)
    if (query.server !== undefined) return providerCid('server', query.server)
    const capability = query.requirements?.capabilities?.[0] ?? [...(query.capabilities ?? [])].sort()[0]
    return capability === undefined ? undefined : providerCid('capability', capability)
  }

  private async findInDht (query: FindQuery, limit: number, signal: AbortSignal | undefined): Promise<ProviderMatch[]> {
    const cid = await this.lookupCid(query)
    if (cid === undefined) return []
    this.counters.dhtFinds++
    const stop = new AbortController()
    const signals = [stop.signal, this.lifecycle.signal, AbortSignal.timeout(this.dhtTimeoutMs)]
    if (signal !== undefined) signals.push(signal)
    const combined = AbortSignal.any(signals)
    const out: ProviderMatch[] = []
    const seen = new Set<string>([this.selfId, ...this.entries.keys()])
    const pending = new Set<Promise<void>>()
    const fetchOne = async (peer: PeerId): Promise<void> => {
      await this.fetchRecord(peer, combined)
      // what the cache holds now: the DHT copy, or a newer one gossip brought while we fetched
      const entry = this.entries.get(peer.toString())
      if (entry === undefined || !matches(entry.descriptor, query)) return
      out.push({ peerId: entry.descriptor.peerId, descriptor: entry.descriptor, score: scoreOf(entry.descriptor, query), source: entry.source })
      if (out.length >= limit) stop.abort()
    }
    try {
      // the DHT's own event stream: libp2p's content routing wrapper adds peer store work per provider
      for await (const event of this.c.dht.findProviders(cid, { signal: combined })) {
        if (event.name !== 'PROVIDER') continue
        for (const provider of event.providers) {
          const id = provider.id.toString()
          if (seen.has(id)) continue
          seen.add(id)
          this.counters.dhtProvidersSeen++
          const p = fetchOne(provider.id).finally(() => { pending.delete(p) })
          pending.add(p)
          if (pending.size >= DEFAULT_DHT_GET_CONCURRENCY) await Promise.race(pending)
        }
        if (out.length >= limit) break
      }
    } catch (err) {
      if (!combined.aborted) this.log.debug('findProviders failed: %s', errorText(err))
    }
    await Promise.allSettled(pending)
    if (signal?.aborted === true && out.length === 0) signal.throwIfAborted()
    return out
  }

  /**
   * A provider's record from the DHT: the first copy that verifies. Waiting for the whole query
   * (what `contentRouting.get` does, to pick the best of up to 16 copies) costs several round
   * trips more; a stale copy is corrected by the provider's next heartbeat.
   */
  private async fetchRecord (peer: PeerId, signal: AbortSignal): Promise<Descriptor | undefined> {
    const id = peer.toString()
    this.counters.dhtGets++
    const done = new AbortController()
    const querySignal = AbortSignal.any([signal, done.signal])
    let lastError: unknown = new Error('no DHT peer returned a record')
    try {
      for await (const event of this.c.dht.get(recordKey(id), { signal: querySignal })) {
        // kad-dht emits VALUE only once the whole query ended; each peer's answer comes earlier, as PEER_RESPONSE
        const value = event.name === 'VALUE' ? event.value : event.name === 'PEER_RESPONSE' ? event.record?.value : undefined
        if (value === undefined) continue
        const from = event.name === 'VALUE' ? event.from : event.name === 'PEER_RESPONSE' ? event.from : peer
        try {
          const d = await decodeRecord(value, { expectedPeerId: id, maxRecordBytes: this.maxRecordBytes, now: this.now(), maxClockSkewMs: this.maxClockSkewMs })
          done.abort()
          return this.accept(d, 'dht', value) ? d : undefined
        } catch (err) {
          lastError = err
          if (isRecordError(err)) this.rejected(from.toString(), 'dht', err)
        }
      }
    } catch (err) {
      if (!done.signal.aborted) lastError = err
    } finally {
      done.abort()
    }
    this.counters.dhtGetFailures++
    this.log.debug('no usable DHT record of %s: %s', id, errorText(lastError))
    return undefined
  }

  private readonly validateGossip = async (from: PeerId, msg: Message): Promise<TopicValidatorResult> => {
    if (msg.type !== 'signed') {
      this.rejected(from.toString(), 'gossip', new TypeError('unsigned gossip message'))
      return TopicValidatorResult.Reject
    }
    let obituary: Obituary | undefined
    try {
      obituary = decodeObituary(msg.data)
    } catch (err) {
      this.rejected(msg.from.toString(), 'gossip', err)
      return TopicValidatorResult.Reject
    }
    if (obituary !== undefined) {
      if (obituary.peerId === this.selfId) {
        // reported dead while alive: say so at once
        void this.heartbeat()
        return TopicValidatorResult.Ignore
      }
      const known = this.entries.get(obituary.peerId)
      // not forwarded when it changes nothing here: the first copies spread, the rest die out
      if (known === undefined || known.descriptor.seq > obituary.seq) return TopicValidatorResult.Ignore
      this.validatedObituaries.set(msg.data, obituary)
      return TopicValidatorResult.Accept
    }
    let d: Descriptor
    try {
      d = await decodeRecord(msg.data, {
        expectedPeerId: msg.from.toString(), maxRecordBytes: this.maxRecordBytes, now: this.now(), maxClockSkewMs: this.maxClockSkewMs,
      })
    } catch (err) {
      this.rejected(msg.from.toString(), 'gossip', err)
      return TopicValidatorResult.Reject
    }
    const highest = this.book.get(d.peerId)
    if (highest !== undefined && d.seq < highest) {
      this.rejected(msg.from.toString(), 'gossip', new StaleRecordError(d.peerId, d.seq, highest))
      return TopicValidatorResult.Reject
    }
    if (highest === d.seq) {
      this.counters.gossipIgnored++
      return TopicValidatorResult.Ignore
    }
    this.validated.set(msg.data, d)
    return TopicValidatorResult.Accept
  }

  private readonly onGossip = (evt: CustomEvent<Message>): void => {
    const msg = evt.detail
    if (msg.topic !== REGISTRY_TOPIC) return
    const obituary = this.validatedObituaries.get(msg.data)
    if (obituary !== undefined) {
      this.validatedObituaries.delete(msg.data)
      const known = this.entries.get(obituary.peerId)
      if (known !== undefined && known.descriptor.seq <= obituary.seq && this.liveness.reportDead(obituary.peerId)) {
        this.counters.obituariesTaken++
        this.prompted.add(obituary.peerId)
        if (this.prompted.size > this.syncLimits.maxRecords) this.prompted.clear()
      }
      return
    }
    const d = this.validated.get(msg.data)
    if (d === undefined) return
    this.validated.delete(msg.data)
    if (this.accept(d, 'gossip', msg.data)) this.counters.gossipAccepted++
  }

  private rejected (from: string, via: 'gossip' | 'dht' | 'sync', err: unknown): void {
    if (via === 'gossip') this.counters.gossipRejected++
    const error = err instanceof Error ? err : new Error(String(err))
    this.log.debug('rejected %s record from %s: %s', via, from, errorText(error))
    this.safeDispatchEvent('record:rejected', { detail: { from, via, error: error.name, message: error.message } })
  }

  /** Takes a verified descriptor into the cache; false when it is not newer than what is known. */
  private accept (d: Descriptor, source: ProviderSource, bytes: Uint8Array): boolean {
    if (d.peerId === this.selfId || !this.started) return false
    const buried = this.tombstones.get(d.peerId)
    // a record issued before the peer was found dead is a late copy, not a sign of life (a restarted peer issues later)
    if (buried !== undefined && d.issuedAt <= buried) {
      this.counters.staleAfterDeath++
      return false
    }
    if (!this.book.offer(d.peerId, d.seq)) return false
    const existing = this.entries.get(d.peerId)
    if (existing !== undefined && d.seq <= existing.descriptor.seq) return false
    this.tombstones.delete(d.peerId)
    if (d.withdrawn === true) {
      if (existing !== undefined) this.remove(d.peerId, existing, 'withdrawn')
      return true
    }
    const now = this.now()
    // gossip is a fresh push (a late one counts at most one interval back); DHT and sync copies count from when they were issued
    const at = source === 'gossip' ? Math.max(d.issuedAt, now - d.heartbeatIntervalMs) : d.issuedAt
    this.liveness.heartbeat(d.peerId, { intervalMs: d.heartbeatIntervalMs, at })
    const fingerprint = existing !== undefined && existing.descriptor.seq === d.seq ? existing.fingerprint : fingerprintOf(d)
    const entry: Entry = { descriptor: d, fingerprint, content: existing?.fingerprint === fingerprint ? existing.content : hash53(fingerprint), bytes, source }
    this.entries.set(d.peerId, entry)
    if (existing === undefined || existing.content !== entry.content) this.digestCache = undefined
    if (existing === undefined) {
      this.safeDispatchEvent('provider:added', { detail: { peerId: d.peerId, descriptor: d, source } })
    } else if (existing.fingerprint !== entry.fingerprint) {
      this.safeDispatchEvent('provider:updated', { detail: { peerId: d.peerId, descriptor: d, source, previous: existing.descriptor } })
    }
    return true
  }

  private remove (peerId: string, entry: Entry, reason: RemovalReason): void {
    this.entries.delete(peerId)
    this.digestCache = undefined
    if (reason !== 'missed-heartbeats') this.liveness.forget(peerId)
    this.safeDispatchEvent('provider:removed', { detail: { peerId, descriptor: entry.descriptor, source: entry.source, reason } })
  }

  private sweep (): void {
    const now = this.now()
    for (const [peerId, e] of this.entries) {
      if (e.descriptor.expiresAt <= now) this.remove(peerId, e, 'expired')
    }

  }

  /** Builds and signs the next descriptor from the published content and the current load. */
  private async sign (): Promise<Descriptor> {
    if (this.content === undefined) throw new RegistryNotStartedError('publish')
    const now = this.now()
    const seq = Math.max(now, this.lastSeq + 1)
    const load = this.loadFn?.() ?? this.pushedLoad
    const draft = {
      v: RECORD_VERSION,
      peerId: this.selfId,
      multiaddrs: this.c.addressManager.getAddresses().slice(0, 32).map((ma) => ma.toString()),
      seq,
      issuedAt: now,
      expiresAt: now + this.recordTtlMs,
      heartbeatIntervalMs: this.heartbeatIntervalMs,
      ...this.content,
      load,
    }
    const parsed = DescriptorSchema.safeParse(draft)
    if (!parsed.success) throw new InvalidDescriptorError(parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`))
    const bytes = await encodeRecord(parsed.data, this.signer)
    if (bytes.byteLength > this.maxRecordBytes) throw new RecordTooLargeError(bytes.byteLength, this.maxRecordBytes)
    this.lastSeq = seq
    this.own = parsed.data
    this.ownBytes = bytes
    const content = hash53(fingerprintOf(parsed.data))
    if (content !== this.ownContent) {
      this.ownContent = content
      this.digestCache = undefined
    }
    return parsed.data
  }

  private async announce (): Promise<void> {
    if (this.ownBytes === undefined) return
    try {
      await this.c.pubsub.publish(REGISTRY_TOPIC, this.ownBytes)
      this.counters.heartbeatsSent++
    } catch (err) {
      this.log.debug('announce not sent: %s', errorText(err))
    }
  }

  private async putInDht (options: AbortOptions): Promise<{ stored: number, failed: number }> {
    const bytes = this.ownBytes
    if (bytes === undefined) return { stored: 0, failed: 0 }
    // Alone, there is nobody to store it with: a put would only wait for its timeout (and
    // make a lone peer slow to stop). Gossip and the next republish reach peers that come.
    if (this.alone()) return { stored: 0, failed: 0 }
    this.counters.dhtPuts++
    let stored = 0
    let failed = 0
    const signals = [this.lifecycle.signal, AbortSignal.timeout(this.dhtPublishTimeoutMs)]
    if (options.signal !== undefined) signals.push(options.signal)
    try {
      for await (const event of this.c.dht.put(recordKey(this.selfId), bytes, { signal: AbortSignal.any(signals) })) {
        if (event.name === 'PEER_RESPONSE' && event.messageName === 'PUT_VALUE') stored++
        else if (event.name === 'QUERY_ERROR') failed++
      }
    } catch (err) {
      this.log.debug('DHT put ended early: %s', errorText(err))
    }
    // Some of the closest peers failing is normal in a small or changing mesh; nobody storing it is not.
    if (stored === 0 && failed > 0) this.log.warn('DHT put of this peer\'s record: no peer stored it, %d refused or failed', failed)
    else if (failed > 0) this.log.debug('DHT put of this peer\'s record: %d peers stored it, %d refused or failed', stored, failed)
    return { stored, failed }
  }

  /** No other peer to store or find records yet (DHT work would only time out). */
  private alone (): boolean {
    // Connections, not gossip peers: a peer joins the topic a moment after it connects, and a
    // put skipped in that moment would leave the record out of the DHT until the next republish.
    const connections = this.c.connectionManager?.getConnections().length
    return (connections ?? this.c.pubsub.getPeers().length) === 0
  }

  private async provideKeys (d: Descriptor, options: AbortOptions): Promise<{ provided: number, failed: number }> {
    const names = new Map<string, CID>()
    for (const s of d.servers) {
      names.set(`server/${s.name}`, await providerCid('server', s.name))
      for (const t of s.tools) names.set(`tool/${t.name}`, await providerCid('tool', t.name))
    }
    for (const c of d.capabilities) names.set(`capability/${c}`, await providerCid('capability', c))
    const wanted = [...names.values()]
    const keep = new Set(wanted.map((c) => c.toString()))
    const dropped = this.provided.filter((c) => !keep.has(c.toString()))
    this.provided = wanted
    await Promise.allSettled(dropped.map(async (cid) => { await this.c.dht.cancelReprovide(cid) }))
    const signals = [this.lifecycle.signal, AbortSignal.timeout(this.dhtPublishTimeoutMs)]
    if (options.signal !== undefined) signals.push(options.signal)
    const signal = AbortSignal.any(signals)
    const results = await Promise.allSettled(wanted.map(async (cid) => { await this.c.contentRouting.provide(cid, { signal }) }))
    const failed = results.filter((r) => r.status === 'rejected')
    // Cut short by stop(), or alone in the mesh: expected, not worth a warning.
    const expected = this.lifecycle.signal.aborted || options.signal?.aborted === true || this.alone()
    if (failed.length > 0) this.log[expected ? 'debug' : 'warn']('%d of %d provider keys not provided: %s', failed.length, wanted.length, errorText(failed[0]?.reason))
    return { provided: wanted.length - failed.length, failed: failed.length }
  }

  private startAnnouncing (): void {
    if (this.heartbeatTimer !== undefined || !this.started) return
    this.heartbeatTimer = setInterval(() => { void this.heartbeat() }, this.heartbeatIntervalMs)
    this.heartbeatTimer.unref?.()
    this.republishTimer = setInterval(() => { void this.republish() }, this.republishIntervalMs)
    this.republishTimer.unref?.()
  }

  /** A changed publication is announced again a little later: one lost gossip message must not hide it until the next heartbeat. */
  private scheduleReannouncements (): void {
    for (const delay of this.reannounceDelaysMs) {
      if (delay >= this.heartbeatIntervalMs) continue
      const timer = setTimeout(() => {
        this.reannounceTimers.delete(timer)
        this.counters.reannouncements++
        void this.heartbeat()
      }, delay)
      timer.unref?.()
      this.reannounceTimers.add(timer)
    }
  }

  private stopAnnouncing (): void {
    for (const t of this.reannounceTimers) clearTimeout(t)
    this.reannounceTimers.clear()
    clearInterval(this.heartbeatTimer)
    clearInterval(this.republishTimer)
    this.heartbeatTimer = undefined
    this.republishTimer = undefined
  }

  private async heartbeat (): Promise<void> {
    if (this.content === undefined || !this.started) return
    try {
      await this.sign()
      await this.announce()
    } catch (err) {
      this.log.error('heartbeat failed: %s', errorText(err))
    }
  }

  private async republish (): Promise<void> {
    if (this.content === undefined || !this.started) return
    await this.putInDht({})
  }
}

/**
 * Creates the registry of a libp2p node that has the `dht` and `pubsub` services of
 * `registryServices()`. Call `start()`, then `publish()` and `find()`.
 */
export function createRegistry (node: Libp2p<RegistryServiceMap>, init: RegistryInit = {}): Registry {
  const components: RegistryComponents = {
    peerId: node.peerId,
    addressManager: { getAddresses: () => node.getMultiaddrs() },
    contentRouting: node.contentRouting,
    dht: node.services.dht,
    pubsub: node.services.pubsub,
    registrar: { handle: async (p, h, o) => { await node.handle(p, h, o) }, unhandle: async (p) => { await node.unhandle(p) } },
    connectionManager: { openStream: async (p, proto, o) => node.dialProtocol(p, proto, o), getConnections: (p) => node.getConnections(p) },
    ...(node.services.ping === undefined ? {} : { ping: node.services.ping }),
    events: node,
    ...(node.services.registrySigner === undefined ? {} : { privateKey: node.services.registrySigner }),
  }
  return new DhtRegistry(components, init, false)
}

/**
 * The registry as a libp2p service, in the style of `kadDHT(init)`: put it after the
 * services of `registryServices()` (`services: { ...registryServices(), registry: registry() }`);
 * it takes the node's key, logger, `dht` and `pubsub` from the components libp2p hands it, and
 * starts and stops with the node.
 */
export function registry (init: RegistryInit = {}): (components: RegistryComponents) => Registry {
  return (components) => new DhtRegistry(components, init, true)
}
