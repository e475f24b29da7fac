/** kad-dht protocol of the private p2p-mcp DHT (not the public IPFS `/ipfs/kad/1.0.0`). */
export const DHT_PROTOCOL = '/p2p-mcp/kad/1.0.0'

/** First path segment of every record key this package writes: `/p2p-mcp/<peerId>`. */
export const RECORD_NAMESPACE = 'p2p-mcp'

/** Gossipsub topic on which signed descriptors (announcements and heartbeats) travel. */
export const REGISTRY_TOPIC = 'p2p-mcp/registry/1'

/** Wire version of the signed record envelope and of the descriptor inside it. */
export const RECORD_VERSION = 1

/** Domain separation prefix of the signed bytes, so a registry signature means nothing elsewhere. */
export const SIGNATURE_DOMAIN = 'p2p-mcp/registry/record/1\n'

/** Largest encoded record a peer accepts (DHT and gossip). */
export const DEFAULT_MAX_RECORD_BYTES = 64 * 1024

/** How often a peer re-announces its descriptor, with its current load, on the gossip topic. */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 5_000

/** A provider is dropped after this many heartbeat intervals without hearing from it. */
export const DEFAULT_MISSED_HEARTBEATS = 3

/** Lifetime of a signed record (its `expiresAt - issuedAt`). */
export const DEFAULT_RECORD_TTL_MS = 60 * 60 * 1000

/** How long a peer's clock may run ahead of ours before its record counts as issued in the future. */
export const DEFAULT_MAX_CLOCK_SKEW_MS = 60_000

/** Default `limit` of `find()`. */
export const DEFAULT_FIND_LIMIT = 20

/** How long a `find()` may spend in the DHT when no signal ends it sooner. */
export const DEFAULT_DHT_TIMEOUT_MS = 10_000

/** Time limit of the DHT put and provides of `publish()`: a put first walks to the closest peers, slow in a cold or busy mesh. */
export const DEFAULT_DHT_PUBLISH_TIMEOUT_MS = 60_000

/** How many record `get`s a DHT `find()` runs at once. */
export const DEFAULT_DHT_GET_CONCURRENCY = 8

/** Highest sequence numbers remembered per peer (replay protection), oldest forgotten first. */
export const DEFAULT_MAX_TRACKED_PEERS = 10_000

/** Smallest and largest period of the expiry sweep. */
export const MIN_SWEEP_INTERVAL_MS = 25
export const MAX_SWEEP_INTERVAL_MS = 1_000

/** Ping stream limits raised from libp2p's 1/2, which a DHT's liveness pings exceed in dense meshes. */
export const PING_MAX_STREAMS = 8

/** Heartbeat intervals of silence after which a suspect whose probes time out on an open connection is dead. */
export const DEFAULT_SUSPECT_TIMEOUT_HEARTBEATS = 20

/** Probes of silent peers in flight at once (each a libp2p ping, dialing when not connected). */
export const DEFAULT_MAX_CONCURRENT_PROBES = 16

/** Bounds of the default probe time limit (the peer's heartbeat interval). */
export const MIN_PROBE_TIMEOUT_MS = 250
export const MAX_PROBE_TIMEOUT_MS = 5_000

/** Anti-entropy: request-response protocol that compares digests of the provider set and repairs a difference. */
export const SYNC_PROTOCOL = '/p2p-mcp/registry-sync/1.0.0'

/** Longest period of anti-entropy rounds; the default is half a heartbeat interval up to this. */
export const MAX_ANTI_ENTROPY_INTERVAL_MS = 1_000

/** Time limit of one anti-entropy exchange. */
export const DEFAULT_SYNC_TIMEOUT_MS = 5_000

/** Largest anti-entropy request (a version and a digest). */
export const MAX_SYNC_REQUEST_BYTES = 256

/** Inbound anti-entropy streams served at once per connection (libp2p's per-protocol limit). */
export const SYNC_MAX_INBOUND_STREAMS = 4

/** Delays after a publish that changed what this peer serves at which it announces again. */
export const DEFAULT_REANNOUNCE_DELAYS_MS: readonly number[] = [150, 600]

/**
 * Gossipsub parameters for registry meshes of tens to thousands of peers (see docs/scale.md):
 * degree 6 (4..10) keeps a message within log_5(N) + 1 hops and each peer's forwarding bounded;
 * flood publish sends the publisher's own announcements to every topic peer it knows, so a
 * publish does not wait for the mesh; a 200 ms gossipsub heartbeat gossips IHAVE for the last
 * three windows (600 ms) and keeps messages six windows (1.2 s) for IWANT, so a message that
 * a mesh link dropped is asked for again within a few hundred ms.
 */
export const REGISTRY_GOSSIP = {
  D: 6,
  Dlo: 4,
  Dhi: 10,
  Dout: 2,
  Dlazy: 6,
  gossipFactor: 0.25,
  heartbeatInterval: 200,
  mcacheLength: 6,
  mcacheGossip: 3,
  floodPublish: true,
} as const
