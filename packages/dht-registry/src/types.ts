import type { FailureDetector } from './failure-detector.js'
import type { Logger } from './logger.js'
import type {
  AccessPolicySchema, DescriptorSchema, LoadSchema, PromptEntrySchema, ResourcesSchema, ResourceTemplateEntrySchema,
  ServerEntrySchema, SlaSchema, ToolAnnotationsSchema, ToolEntrySchema,
} from './descriptor.js'
import type { PrivateKey } from '@libp2p/interface'
import type { z } from 'zod'

/** A signed capability descriptor, as every peer reads it (see the README for the wire format). */
export type Descriptor = z.output<typeof DescriptorSchema>
export type ServerEntry = z.output<typeof ServerEntrySchema>
export type ToolEntry = z.output<typeof ToolEntrySchema>
export type ToolAnnotations = z.output<typeof ToolAnnotationsSchema>
export type ResourceTemplateEntry = z.output<typeof ResourceTemplateEntrySchema>
export type PromptEntry = z.output<typeof PromptEntrySchema>
export type Resources = z.output<typeof ResourcesSchema>
export type AccessPolicy = z.output<typeof AccessPolicySchema>
export type Load = z.output<typeof LoadSchema>
export type Sla = z.output<typeof SlaSchema>

export type { Logger } from './logger.js'

/** A tool as given to `publish()`: give its schemas (hashed for you) or their hashes. */
export interface ToolInput {
  name: string
  title?: string
  description?: string
  /** The tool's input JSON Schema; hashed over RFC 8785 canonical JSON. @default { type: 'object' } */
  inputSchema?: unknown
  /** The sha256 of the input schema, when already computed with `schemaHash()`. */
  inputSchemaHash?: string
  outputSchema?: unknown
  outputSchemaHash?: string
  annotations?: ToolAnnotations
}

/** An MCP server as given to `publish()`. */
export interface ServerInput {
  name: string
  version: string
  title?: string
  description?: string
  /** Metadata in the official MCP registry's `server.json` format. */
  serverJson?: Record<string, unknown>
  tools?: ToolInput[]
  resourceTemplates?: ResourceTemplateEntry[]
  prompts?: PromptEntry[]
  /** Rate and concurrency limits of this server at this peer (seed 000's access policy), signed with the rest. */
  accessPolicy?: AccessPolicy
}

/** What `publish()` takes; the registry adds peer id, multiaddrs, schema hashes, load, sequence, expiry, signature. */
export interface PublishInput {
  servers: ServerInput[]
  capabilities?: string[]
  resources?: Resources
  accessPolicy?: AccessPolicy
  sla?: Sla
}

/** What the DHT part of a publication did (it may take seconds in a small or cold mesh). */
export interface DhtPublishResult {
  /** Peers that stored the DHT record (answered PUT_VALUE with it). */
  stored: number
  /** Peers that refused or failed to store it (`put()` itself does not fail when they do). */
  failed: number
  /** Provider keys (server, tool and capability CIDs) announced in the DHT. */
  provided: number
  /** Provider keys whose `provide()` failed (logged; retried by the DHT's reprovider). */
  provideFailed: number
}

/**
 * What `publish()` did: it resolves once the descriptor is signed (the local view and
 * `registry.descriptor` have it) and announced over gossip; the DHT put and provides go on
 * and are reported by `dht`, which never rejects.
 */
export interface PublishResult {
  descriptor: Descriptor
  dht: Promise<DhtPublishResult>
}

/** Hard requirements: a provider that misses any is not returned at all. */
export interface Requirements {
  /** Capabilities the provider must all have. */
  capabilities?: string[]
  /** Minimum resources; `gpu: true` means a GPU is required. */
  resources?: Resources
  /** Highest acceptable in-flight count. */
  maxInFlight?: number
  /** Highest acceptable EWMA latency, in ms. */
  maxLatencyMs?: number
  /** Lowest acceptable `sla.availabilityPercent`. */
  minAvailabilityPercent?: number
}

/** What `find()` looks for; every given field must match. */
export interface FindQuery {
  /** A server name the provider hosts. */
  server?: string
  /** A tool name the provider hosts (in `server` when both are given). */
  tool?: string
  /** Wanted capabilities: ranked by hamming distance to the offered ones, not required. */
  capabilities?: string[]
  requirements?: Requirements
}

export interface FindOptions {
  signal?: AbortSignal
  /** Most providers returned. @default 20 */
  limit?: number
  /** The DHT is asked only when the cache has fewer matches than this. @default 1 */
  minResults?: number
  /** `false`: answer from the cache only. @default true */
  dht?: boolean
  /** Return this peer's own descriptor when it matches. @default true */
  includeSelf?: boolean
}

/** How a provider ranks: lower is better in each field, compared in this order. */
export interface ProviderScore {
  /** Hamming distance between wanted and offered capabilities over their sorted union. */
  distance: number
  /** `load.inFlight / accessPolicy.maxConcurrentExecutions` (or `inFlight` when no maximum is given). */
  load: number
  /** `load.ewmaLatencyMs`. */
  latencyMs: number
}

/** Where a provider's descriptor came from. */
export type ProviderSource = 'self' | 'gossip' | 'dht' | 'sync'

export interface ProviderMatch {
  peerId: string
  descriptor: Descriptor
  score: ProviderScore
  source: ProviderSource
}

export interface ProviderEventDetail {
  peerId: string
  descriptor: Descriptor
  source: ProviderSource
}

export interface ProviderUpdatedEventDetail extends ProviderEventDetail {
  previous: Descriptor
}

/** Why a provider left the cache. */
export type RemovalReason = 'missed-heartbeats' | 'expired' | 'withdrawn'

export interface ProviderRemovedEventDetail extends ProviderEventDetail {
  reason: RemovalReason
}

/**
 * Events. `provider:updated` fires when what a provider serves or offers changed (servers, tools,
 * schema hashes, capabilities, resources, access policy, SLA, addresses), not on every heartbeat.
 */
export interface RegistryEvents {
  'provider:added': CustomEvent<ProviderEventDetail>
  'provider:updated': CustomEvent<ProviderUpdatedEventDetail>
  'provider:removed': CustomEvent<ProviderRemovedEventDetail>
  /** A record from the network was refused (bad, forged, replayed, expired, oversized); it never reaches `find()`. */
  'record:rejected': CustomEvent<RecordRejectedEventDetail>
}

export interface RecordRejectedEventDetail {
  /** The peer that sent it (gossip, sync) or whose DHT record it was. */
  from: string
  via: 'gossip' | 'dht' | 'sync'
  /** The error's name, e.g. `InvalidSignatureError`, `StaleRecordError`. */
  error: string
  message: string
}

/** Counters, for tests, metrics and benchmarks. */
export interface RegistryStats {
  providers: number
  gossipAccepted: number
  gossipRejected: number
  gossipIgnored: number
  heartbeatsSent: number
  cacheFinds: number
  dhtFinds: number
  dhtProvidersSeen: number
  dhtGets: number
  dhtGetFailures: number
  dhtPuts: number
  /** Anti-entropy rounds started, rounds that brought something new, rounds that failed, bytes received. */
  syncRounds: number
  syncRepairs: number
  syncFailures: number
  syncBytesIn: number
  /** Extra announcements sent shortly after a publish that changed what this peer serves. */
  reannouncements: number
  /** Providers removed because the failure detector declared them dead. */
  deadPeers: number
  /** Late records of a dead provider, issued before the silence that killed it, not taken. */
  staleAfterDeath: number
  /** Obituaries this peer sent (it found a provider dead) and took (another peer's report that made it probe the provider at once). */
  obituariesSent: number
  obituariesTaken: number
}

export interface RegistryInit {
  /** How often this peer re-announces its signed descriptor, with its current load. @default 5000 */
  heartbeatIntervalMs?: number
  /** A provider is dropped after this many of its heartbeat intervals without a heartbeat. @default 3 */
  missedHeartbeats?: number
  /** Lifetime of each signed record. @default 3600000 (1 h) */
  recordTtlMs?: number
  /** How often the record is put into the DHT again (the DHT never republishes values). @default recordTtlMs / 2 */
  republishIntervalMs?: number
  /** Largest record accepted or published. @default 65536 */
  maxRecordBytes?: number
  /** How far ahead of ours another peer's clock may be. @default 60000 */
  maxClockSkewMs?: number
  /** Highest sequence numbers remembered for replay protection. @default 10000 */
  maxTrackedPeers?: number
  /** Time limit of the DHT part of `find()` when no signal ends it sooner. @default 10000 */
  dhtTimeoutMs?: number
  /** Time limit of the DHT put and provides of `publish()`, `unpublish()` and republishing. @default 60000 */
  dhtPublishTimeoutMs?: number
  /** Reports this peer's load at each heartbeat; `setLoad()` does the same by push. @default { inFlight: 0, ewmaLatencyMs: 0 } */
  load?: () => Load
  /** @default a logger that drops everything */
  logger?: Logger
  /** The node's private key, when the node has no `registrySigner` service (see `registryServices()`). */
  privateKey?: PrivateKey
  /** Clock, in ms since the epoch (tests and simulations). @default Date.now */
  now?: () => number
  /** Period of anti-entropy rounds (digest exchange with one random connected peer); 0 turns them off. @default heartbeatIntervalMs / 2, at most 1000 */
  antiEntropyIntervalMs?: number
  /** Delays after a publish that changed what this peer serves at which it is announced again (those not below heartbeatIntervalMs are skipped). @default [150, 600] */
  reannounceDelaysMs?: number[]
  /** Heartbeat intervals of silence after which a provider whose probes time out on an open connection is removed. @default 20 */
  suspectTimeoutHeartbeats?: number
  /** Time limit of one probe of a silent provider. @default its heartbeat interval, within 250..5000 ms */
  probeTimeoutMs?: number
  /** A failure detector shared with other parts of the node; the registry feeds it heartbeats and follows its `peer:dead`. The owner starts and stops it. @default one of the registry's own */
  failureDetector?: FailureDetector
}
