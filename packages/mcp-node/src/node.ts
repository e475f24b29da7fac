import { join } from 'node:path'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Libp2p, PeerId, PrivateKey } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { preSharedKey } from '@libp2p/pnet'
import { tcp } from '@libp2p/tcp'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import type { CallToolResult, ClientCapabilities, Implementation, ReadResourceResult, Resource, Tool } from '@modelcontextprotocol/sdk/types.js'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { createClientPool, type ClientPool } from '@p2p-mcp/client-pool'
import { createRegistry, registryServices, type Registry, type RegistryServices, type ServerInput } from '@p2p-mcp/dht-registry'
import { dialMcp, serveMcp, type Unserve } from '@p2p-mcp/transport'
import { serve, type MemoryServed, type Served } from '@p2p-mcp/transport/node'
import { FsDatastore } from 'datastore-fs'
import { createLibp2p } from 'libp2p'
import { groupProviders, loadGroup, MeshCatalog, type CatalogChange } from './catalog.js'
import { parseConfig, type McpNodeConfig, type McpNodeConfigInput } from './config.js'
import {
  DEFAULT_BOOTSTRAP_RETRY_MAX_MS, DEFAULT_BOOTSTRAP_RETRY_MIN_MS, DEFAULT_HEALTH_INTERVAL_MS, DEFAULT_SHUTDOWN_GRACE_MS, MESH_SERVER,
  ROUTE_CLIENT_PREFIX,
} from './constants.js'
import type { NodeCore } from './core.js'
import { ConfigError, DuplicateUpstreamError, NodeNotStartedError } from './errors.js'
import { TypedEventEmitter } from 'main-event'
import { startHttpFrontDoor, type HttpFrontDoor } from './http.js'
import { createModernRelay, relayModern } from './modern-relay.js'
import { DATASTORE_DIR, isLoopbackAddr, loadOrCreateKey, loadPsk } from './identity.js'
import { childOf, noopLogger, type Logger } from './logger.js'
import { NodeMetrics } from './metrics.js'
import { OrderedTransport } from './ordered-transport.js'
import { Policy } from './policy.js'
import { FrontSession, type SessionView } from './session.js'
import { LocalUpstream, type UpstreamSpec } from './upstream.js'
import { meshName } from './naming.js'

/** Options that cannot be written in a config file. */
export interface McpNodeOptions {
  /** Structured logger (pino fits). @default no logging */
  logger?: Logger
  /** Name under which `registerTool()` / `registerResource()` / `registerPrompt()` are hosted. @default 'local' */
  localServerName?: string
}

/** Health, as `/healthz` reports it: degraded with the reasons, never "ok" while nothing is served. */
export interface NodeHealth {
  status: 'ok' | 'degraded' | 'stopping'
  reasons: string[]
  peerId: string
  peers: number
  tools: number
  upstreams: Array<{ name: string, status: string, error?: string }>
  bootstrap: Array<{ addr: string, connected: boolean, attempts: number, error?: string }>
}

export interface McpNodeEvents {
  /** The mesh's tools, resources or prompts as served here changed (list_changed was sent). */
  'mesh:changed': CustomEvent<CatalogChange>
  /** A hosted upstream went up or down or changed what it offers. */
  'upstream:changed': CustomEvent<{ name: string, status: string }>
  'peer:connect': CustomEvent<{ peerId: string }>
  'peer:disconnect': CustomEvent<{ peerId: string }>
}

interface BootstrapState { addr: string, peer: string | undefined, connected: boolean, attempts: number, error?: string }

type LocalRegistration = (server: McpServer) => void

/**
 * A mesh peer: libp2p with the registry services, hosted upstream MCP servers published
 * through the DHT registry, the union of the mesh served over libp2p, Streamable HTTP and
 * stdio, routing through one client pool per server.
 */
export class McpNode extends TypedEventEmitter<McpNodeEvents> implements NodeCore {
  readonly config: McpNodeConfig
  log: Logger
  readonly policy: Policy
  readonly catalog: MeshCatalog
  readonly upstreams = new Map<string, LocalUpstream>()
  readonly sessions = new Set<FrontSession>()
  readonly metrics: NodeMetrics
  draining = false
  private readonly localServerName: string
  private readonly localRegistrations: LocalRegistration[] = []
  private readonly pools = new Map<string, ClientPool>()
  private readonly served = new Map<string, Map<string, number>>()
  private readonly bootstrapState: BootstrapState[] = []
  private node: Libp2p<RegistryServices> | undefined
  private registry: Registry | undefined
  private selfServe: MemoryServed | undefined
  private unserve: Unserve | undefined
  private unserveModern: (() => Promise<void>) | undefined
  private http: HttpFrontDoor | undefined
  private stdio: Served | undefined
  private datastore: FsDatastore | undefined
  private starting: Promise<void> | undefined
  private stopping: Promise<void> | undefined
  private started = false
  private inFlightCalls = 0
  private ewmaMs = 0
  private idleWaiters: Array<() => void> = []
  private updateQueued = false
  private updating: Promise<void> = Promise.resolve()
  private publishTimer: ReturnType<typeof setTimeout> | undefined
  private publishing: Promise<void> = Promise.resolve()
  private bootstrapTimer: ReturnType<typeof setTimeout> | undefined
  private localReconnect: ReturnType<typeof setTimeout> | undefined

  constructor (config: McpNodeConfigInput, options: McpNodeOptions = {}) {
    super()
    this.config = parseConfig(config)
    this.log = options.logger ?? noopLogger
    this.localServerName = options.localServerName ?? 'local'
    this.policy = new Policy(this.config.policy)
    this.catalog = new MeshCatalog(childOf(this.log, { component: 'catalog' }))
    this.metrics = new NodeMetrics({
      peers: () => this.node?.getPeers().length ?? 0,
      meshTools: () => this.catalog.tools.length,
      sessions: () => {
        const out: Record<string, number> = {}
        for (const s of this.sessions) out[s.init.door] = (out[s.init.door] ?? 0) + 1
        return out
      },
      upstreams: () => [...this.upstreams.values()].map((u) => ({ name: u.name, up: u.status === 'up', restarts: u.restarts })),
      pools: () => [...this.pools].map(([server, p]) => {
        const s = p.stats()
        return { server, endpoints: s.endpoints.map((e) => ({ id: e.id, state: e.state, breaker: e.breaker, inFlight: e.inFlight })), retries: s.retries, budgetExhausted: s.budgetExhausted }
      }),
      registry: () => ({ ...(this.registry?.stats() ?? {}) }),
    })
    this.checkTrust()
    for (const u of this.config.upstreams) this.addUpstreamNow(u)
  }

  /** This peer's id (after `start()`). */
  get peerId (): string {
    if (this.node === undefined) throw new NodeNotStartedError('peerId')
    return this.node.peerId.toString()
  }

  /** The libp2p node (after `start()`). */
  get libp2p (): Libp2p<RegistryServices> {
    if (this.node === undefined) throw new NodeNotStartedError('libp2p')
    return this.node
  }

  /** Listening multiaddrs, each ending in `/p2p/<peer id>`. */
  get multiaddrs (): string[] {
    return this.node?.getMultiaddrs().map((ma) => ma.toString()) ?? []
  }

  /** The whole-mesh Streamable HTTP endpoint, when the HTTP front door is enabled and started. */
  get httpUrl (): URL | undefined {
    return this.http?.url
  }

  get pageSize (): number { return this.config.pageSize }

  private checkTrust (): void {
    const c = this.config
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

  // ---------------------------------------------------------------------------------------
  // Hosting

  /** Hosts an MCP server on this peer: a stdio child, a Streamable HTTP URL, or an in-process server factory. */
  async addUpstream (spec: UpstreamSpec): Promise<void> {
    const upstream = this.addUpstreamNow(spec)
    if (this.started) await upstream.start()
  }

  /** Stops hosting an upstream and withdraws it from the mesh. */
  async removeUpstream (name: string): Promise<void> {
    const u = this.upstreams.get(name)
    if (u === undefined) return
    this.upstreams.delete(name)
    await u.stop()
    this.schedulePublish()
  }

  private addUpstreamNow (spec: UpstreamSpec): LocalUpstream {
    if (spec.name === MESH_SERVER) throw new ConfigError('upstreams.name', `"${MESH_SERVER}" is reserved for the built-in mesh tools`)
    if (this.upstreams.has(spec.name)) throw new DuplicateUpstreamError(spec.name)
    const upstream = new LocalUpstream(spec, { logger: this.log, clientInfo: { name: 'p2p-mcp-node', version: '0.1.0' } })
    upstream.addEventListener('changed', () => {
      this.safeDispatchEvent('upstream:changed', { detail: { name: upstream.name, status: upstream.status } })
      for (const s of this.sessions) if (s.resolved().kind === 'route') s.notifyChanged({ tools: true, resources: true, prompts: true }, upstream.name)
      this.schedulePublish()
    })
    this.upstreams.set(spec.name, upstream)
    return upstream
  }

  private local (): void {
    if (this.upstreams.has(this.localServerName)) return
    this.addUpstreamNow({
      name: this.localServerName,
      type: 'in-process',
      server: () => {
        const server = new McpServer({ name: this.localServerName, version: '0.1.0' }, { capabilities: { logging: {} } })
        for (const r of this.localRegistrations) r(server)
        return server
      },
    })
  }

  private registered (r: LocalRegistration): void {
    this.localRegistrations.push(r)
    this.local()
    if (!this.started) return
    // An SDK server cannot add capabilities once connected: reconnect a fresh one with every registration.
    clearTimeout(this.localReconnect)
    this.localReconnect = setTimeout(() => { void this.upstreams.get(this.localServerName)?.reconnect() }, 10)
    this.localReconnect.unref()
  }

  /** Hosts a tool in this process, under the server `localServerName` (same arguments as `McpServer.registerTool`). */
  registerTool (name: string, config: Record<string, unknown>, callback: (...args: never[]) => unknown): void {
    this.registered((s) => { (s.registerTool as (...a: unknown[]) => unknown).call(s, name, config, callback) })
  }

  /** Hosts a resource in this process (same arguments as `McpServer.registerResource`). */
  registerResource (name: string, uriOrTemplate: unknown, config: Record<string, unknown>, callback: (...args: never[]) => unknown): void {
    this.registered((s) => { (s.registerResource as (...a: unknown[]) => unknown).call(s, name, uriOrTemplate, config, callback) })
  }

  /** Hosts a prompt in this process (same arguments as `McpServer.registerPrompt`). */
  registerPrompt (name: string, config: Record<string, unknown>, callback: (...args: never[]) => unknown): void {
    this.registered((s) => { (s.registerPrompt as (...a: unknown[]) => unknown).call(s, name, config, callback) })
  }

  // ---------------------------------------------------------------------------------------
  // Lifecycle

  /** Starts libp2p, the registry, the upstreams and the front doors. Idempotent. */
  async start (): Promise<void> {
    if (this.stopping !== undefined) throw new Error('this node was stopped; create a new one')
    this.starting ??= this.startNow()
    await this.starting
  }

  private async startNow (): Promise<void> {
    const c = this.config
    const privateKey: PrivateKey = c.dataDir === undefined ? await generateKeyPair('Ed25519') : await loadOrCreateKey(c.dataDir)
    if (c.dataDir !== undefined) {
      this.datastore = new FsDatastore(join(c.dataDir, DATASTORE_DIR))
      await this.datastore.open()
    }
    const psk = c.psk === undefined ? undefined : await loadPsk(c.psk)
    const allowPeers = c.allowPeers === undefined ? undefined : new Set(c.allowPeers)
    const loopbackOnly = c.listen.every(isLoopbackAddr)
    this.node = await createLibp2p({
      privateKey,
      ...(this.datastore === undefined ? {} : { datastore: this.datastore }),
      addresses: { listen: c.listen },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      ...(psk === undefined ? {} : { connectionProtector: preSharedKey({ psk }) }),
      connectionGater: {
        denyDialMultiaddr: () => false,
        ...(allowPeers === undefined
          ? {}
          : {
              denyInboundEncryptedConnection: (peer: PeerId) => !allowPeers.has(peer.toString()),
              denyOutboundEncryptedConnection: (peer: PeerId) => !allowPeers.has(peer.toString()),
            }),
      },
      connectionManager: loopbackOnly ? { allow: ['/ip4/127.0.0.0/ipcidr/8', '/ip6/::1/ipcidr/128'] } : {},
      services: registryServices({ pubsub: { heartbeatInterval: 200 } }),
    })
    const node = this.node
    const selfId = node.peerId.toString()
    this.log = this.log.child?.({ peer: selfId.slice(-8) }) ?? this.log
    node.addEventListener('peer:connect', (e) => {
      this.safeDispatchEvent('peer:connect', { detail: { peerId: e.detail.toString() } })
      for (const b of this.bootstrapState) if (b.peer === e.detail.toString()) b.connected = true
    })
    node.addEventListener('peer:disconnect', (e) => {
      this.safeDispatchEvent('peer:disconnect', { detail: { peerId: e.detail.toString() } })
      for (const b of this.bootstrapState) if (b.peer === e.detail.toString()) { b.connected = false; this.scheduleBootstrap(DEFAULT_BOOTSTRAP_RETRY_MIN_MS) }
    })

    this.registry = createRegistry(node, {
      heartbeatIntervalMs: c.heartbeatIntervalMs,
      logger: childOf(this.log, { component: 'registry' }),
      load: () => ({ inFlight: this.inFlightCalls, ewmaLatencyMs: Math.round(this.ewmaMs * 1000) / 1000 }),
    })
    for (const evt of ['provider:added', 'provider:updated', 'provider:removed'] as const) {
      this.registry.addEventListener(evt, () => { this.scheduleUpdate() })
    }
    this.registry.addEventListener('provider:removed', (e) => { this.log.info({ provider: e.detail.peerId, reason: e.detail.reason }, 'provider left the mesh') })
    this.registry.addEventListener('provider:added', (e) => { this.log.info({ provider: e.detail.peerId, servers: e.detail.descriptor.servers.map((x) => x.name) }, 'provider joined the mesh') })
    await this.registry.start()

    this.selfServe = await serve(() => new FrontSession(this, { principal: selfId, door: 'memory', view: { kind: 'auto' }, enforcePolicy: false }).server, { type: 'memory' })
    this.unserve = await serveMcp(node, (info) => new FrontSession(this, {
      principal: info.remotePeer.toString(), door: 'libp2p', view: { kind: 'auto' }, enforcePolicy: true,
    }).server, {
      ...(allowPeers === undefined ? {} : { authorize: (peer: PeerId) => allowPeers.has(peer.toString()) }),
      logger: childOf(this.log, { component: 'libp2p-door' }),
    })
    // 2026-07-28 requests from other peers, relayed as they are to the HTTP servers hosted here (decision 0072).
    const modernRelay = createModernRelay({
      target: (server) => {
        const spec = this.upstreams.get(server)?.spec
        return spec?.type === 'http' ? { url: spec.url, headers: spec.headers } : undefined
      },
      authorize: (peer, r) => {
        if (r.method !== 'tools/call' || r.name === undefined) return undefined
        const d = this.policy.check(peer, meshName(r.server, r.name))
        return d.allowed ? undefined : `tool ${JSON.stringify(r.name)} of ${r.server} is not allowed for principal ${JSON.stringify(peer)}: ${d.reason}`
      },
      log: childOf(this.log, { component: 'mcp-2026' }),
    })
    this.unserveModern = await modernRelay.serve(node)

    await Promise.all([...this.upstreams.values()].map(async (u) => { await u.start() }))
    this.started = true
    // Gossip announces at once; the DHT part may take its time (and times out alone in a one-peer mesh).
    void this.publish()

    for (const addr of c.bootstrap) {
      let peer: string | undefined
      try { peer = multiaddr(addr).getComponents().findLast((x) => x.name === 'p2p')?.value } catch (err) {
        throw new ConfigError('bootstrap', `${addr} is not a multiaddr: ${(err as Error).message}`)
      }
      if (peer === undefined) throw new ConfigError('bootstrap', `${addr} does not end in /p2p/<peer id>; add the bootstrap peer's id`)
      this.bootstrapState.push({ addr, peer, connected: false, attempts: 0 })
    }
    if (this.bootstrapState.length > 0) void this.bootstrapRound()

    if (c.http.enabled) {
      this.http = await startHttpFrontDoor({
        openSession: ({ principal, view }) => new FrontSession(this, { principal, door: 'http', view, enforcePolicy: true }),
        hasServer: (name) => this.catalog.groups.has(name),
        allowed: (principal, server, tool) => this.policy.check(principal, meshName(server, tool)),
        relay: async (request, signal) => await relayModern(node, this.catalog.groups.get(request.server)?.providers ?? [], request, {
          signal, log: childOf(this.log, { component: 'mcp-2026' }), self: { peer: selfId, relay: modernRelay },
        }),
        health: () => this.health(),
        metrics: async () => ({ contentType: this.metrics.registry.contentType, body: await this.metrics.registry.metrics() }),
        log: childOf(this.log, { component: 'http' }),
      }, c.http)
    }
    if (c.stdio) {
      // A desktop client lists tools once at connect: give the mesh a moment to be heard first.
      if (c.bootstrap.length > 0 && this.catalog.tools.length === 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, 5_000)
          timer.unref()
          function done (): void { clearTimeout(timer); resolve() }
          this.addEventListener('mesh:changed', done, { once: true })
        })
      }
      this.stdio = await serve(() => new FrontSession(this, { principal: 'local', door: 'stdio', view: { kind: 'mesh' }, enforcePolicy: true }).server, { type: 'stdio' })
    }
    this.scheduleUpdate()
    this.log.info({ peerId: selfId, addrs: this.multiaddrs, http: this.http?.url.href }, 'mesh peer started')
  }

  /**
   * Graceful shutdown: withdraws this peer's descriptor, stops accepting sessions, waits for
   * calls in flight (up to `graceMs`), then closes front doors, pools, upstreams and libp2p.
   * Idempotent.
   */
  async stop (options: { graceMs?: number } = {}): Promise<void> {
    if (this.starting === undefined) return
    this.stopping ??= this.stopNow(options.graceMs ?? DEFAULT_SHUTDOWN_GRACE_MS)
    await this.stopping
  }

  private async stopNow (graceMs: number): Promise<void> {
    await this.starting?.catch(() => {})
    this.log.info('stopping: withdrawing, finishing calls in flight')
    clearTimeout(this.bootstrapTimer)
    clearTimeout(this.publishTimer)
    clearTimeout(this.localReconnect)
    await this.registry?.unpublish({ signal: AbortSignal.timeout(3_000) }).catch(() => {})
    this.http?.stopAccepting()
    if (this.inFlightCalls > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs)
        timer.unref()
        this.idleWaiters.push(() => { clearTimeout(timer); resolve() })
      })
      // A call counts as finished in its handler, a few microtasks before the SDK hands its
      // response to the transport: let those responses be queued before the doors close
      // (closing a transport flushes what is queued, not what is still to come).
      await new Promise<void>((resolve) => { setImmediate(resolve) })
    }
    this.draining = true
    await this.http?.close()
    await this.stdio?.close()
    await this.unserve?.()
    await this.unserveModern?.()
    await Promise.allSettled([...this.sessions].map(async (s) => { await s.close() }))
    await this.selfServe?.close()
    await Promise.allSettled([...this.pools.values()].map(async (p) => { await p.close({ signal: AbortSignal.timeout(1_000) }) }))
    await Promise.allSettled([...this.upstreams.values()].map(async (u) => { await u.stop() }))
    await this.registry?.stop()
    await this.node?.stop()
    await this.datastore?.close()
    this.started = false
    this.log.info('stopped')
  }

  // ---------------------------------------------------------------------------------------
  // Publishing and the mesh view

  private schedulePublish (): void {
    if (!this.started || this.stopping !== undefined) return
    clearTimeout(this.publishTimer)
    this.publishTimer = setTimeout(() => { void this.publish() }, 20)
    this.publishTimer.unref()
  }

  private async publish (): Promise<void> {
    this.publishing = this.publishing.then(async () => {
      const registry = this.registry
      if (registry === undefined || this.stopping !== undefined) return
      const servers: ServerInput[] = []
      for (const u of this.upstreams.values()) {
        if (u.status !== 'up') continue
        const cut = (s: string | undefined, n: number): string | undefined => (s === undefined ? undefined : s.slice(0, n))
        servers.push({
          name: u.name,
          version: (u.serverInfo?.version ?? '0.0.0').slice(0, 64),
          ...(u.serverInfo?.title === undefined ? {} : { title: cut(u.serverInfo.title, 2048)! }),
          tools: u.tools.map((t) => ({
            name: t.name,
            ...(t.title === undefined ? {} : { title: cut(t.title, 2048)! }),
            ...(t.description === undefined ? {} : { description: cut(t.description, 2048)! }),
            inputSchema: t.inputSchema,
            ...(t.outputSchema === undefined ? {} : { outputSchema: t.outputSchema }),
            ...(t.annotations === undefined
              ? {}
              : {
                  annotations: Object.fromEntries(Object.entries(t.annotations)
                    .filter(([k, v]) => ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'].includes(k) && typeof v === 'boolean')),
                }),
          })),
          resourceTemplates: [
            ...u.resources.map((r) => ({ name: r.name, uriTemplate: r.uri, ...(r.mimeType === undefined ? {} : { mimeType: r.mimeType }) })),
            ...u.resourceTemplates.map((r) => ({ name: r.name, uriTemplate: r.uriTemplate, ...(r.mimeType === undefined ? {} : { mimeType: r.mimeType }) })),
          ],
          prompts: u.prompts.map((p) => ({
            name: p.name,
            ...(p.description === undefined ? {} : { description: cut(p.description, 2048)! }),
            ...(p.arguments === undefined ? {} : { arguments: p.arguments.map((a) => ({ name: a.name, ...(a.required === undefined ? {} : { required: a.required }) })) }),
          })),
        })
      }
      // publish() signs and announces over gossip first, then waits for the DHT (up to its
      // timeout in a small mesh). The local view and the next publish need only the first part.
      const before = registry.descriptor
      let settled = false
      const done = registry.publish({ servers }, { signal: AbortSignal.timeout(10_000) })
        .catch((err: unknown) => { this.log.warn('publishing this peer\'s descriptor failed: %s', (err as Error).message) })
        .finally(() => { settled = true })
      for (let i = 0; i < 400 && !settled && registry.descriptor === before; i++) await new Promise((resolve) => setTimeout(resolve, 5))
      void done
      this.scheduleUpdate()
    })
    await this.publishing
  }

  private scheduleUpdate (): void {
    if (this.updateQueued || this.registry === undefined) return
    this.updateQueued = true
    this.updating = this.updating.then(async () => {
      this.updateQueued = false
      if (this.stopping !== undefined) return
      await this.update().catch((err: unknown) => { this.log.warn('mesh update failed: %s', (err as Error).message) })
    })
  }

  private async update (): Promise<void> {
    const registry = this.registry!
    const providers = registry.providers()
    const groups = groupProviders(providers)
    const addrs = new Map(providers.map((p) => [p.peerId, p.descriptor.multiaddrs]))
    // Endpoints are added before the catalog changes and removed after it: a tool is never
    // listed while its pool has no endpoint for it.
    for (const [name, g] of groups) {
      const pool = this.poolFor(name)
      const want = new Set(g.providers)
      const have = new Set(pool.ids())
      for (const id of want) {
        if (have.has(id)) continue
        try {
          pool.add({ id, connect: async ({ signal }) => await this.connectTo(id, addrs.get(id) ?? [], signal) })
        } catch (err) {
          // Still draining from an earlier removal (a peer that left and came back): try again shortly.
          this.log.debug('endpoint %s of %s not added yet: %s', id, name, (err as Error).message)
          setTimeout(() => { this.scheduleUpdate() }, 250).unref()
        }
      }
    }
    const change = await this.catalog.update(providers, async (group) => { await loadGroup(group, this.poolFor(group.name)) })
    for (const [name, pool] of this.pools) {
      const want = new Set(groups.get(name)?.providers ?? [])
      for (const id of pool.ids()) if (!want.has(id)) void pool.remove(id, { signal: AbortSignal.timeout(5_000) }).catch(() => {})
    }
    if (this.catalog.pending) {
      // Definitions that failed to load are tried again shortly.
      setTimeout(() => { this.scheduleUpdate() }, 1_000).unref()
    }
    if (change.tools || change.resources || change.prompts) {
      this.log.info({ tools: this.catalog.tools.length, servers: [...this.catalog.groups.keys()] }, 'mesh changed')
      for (const s of this.sessions) if (s.resolved().kind !== 'route') s.notifyChanged(change)
      this.safeDispatchEvent('mesh:changed', { detail: change })
    }
  }

  private async connectTo (peer: string, addrs: string[], signal: AbortSignal): Promise<import('@modelcontextprotocol/sdk/shared/transport.js').Transport> {
    if (peer === this.peerId) return new OrderedTransport(await this.selfServe!.connect())
    const suffix = `/p2p/${peer}`
    const targets: Multiaddr[] = addrs.map((a) => multiaddr(a.endsWith(suffix) ? a : `${a}${suffix}`))
    return new OrderedTransport(await dialMcp(this.libp2p, targets.length > 0 ? targets : peerIdFromString(peer), { signal }))
  }

  private poolFor (server: string): ClientPool {
    let pool = this.pools.get(server)
    if (pool !== undefined) return pool
    const tools: Record<string, number> = {}
    for (const [name, ms] of Object.entries(this.config.timeouts.tools)) {
      if (name.startsWith(`${server}__`)) tools[name.slice(server.length + 2)] = ms
    }
    pool = createClientPool({
      balancer: this.config.balancer,
      healthCheck: { intervalMs: DEFAULT_HEALTH_INTERVAL_MS, timeoutMs: 2_000, unhealthyThreshold: 2, healthyThreshold: 1 },
      requestTimeoutMs: this.config.timeouts.defaultMs,
      toolTimeoutsMs: tools,
      reconnect: { initialDelayMs: 100, maxDelayMs: 5_000, connectTimeoutMs: 5_000 },
      clientInfo: { name: `${ROUTE_CLIENT_PREFIX}${server}`, version: '0.1.0' },
      logger: childOf(this.log, { pool: server }),
    })
    this.pools.set(server, pool)
    return pool
  }

  /** The pool of a server of the mesh (internal; sessions call through its scopes). */
  pool (server: string): ClientPool | undefined {
    return this.catalog.groups.has(server) ? this.poolFor(server) : this.pools.get(server)
  }

  timeoutOf (tool: string): number {
    return this.config.timeouts.tools[tool] ?? this.config.timeouts.defaultMs
  }

  callStarted (): void {
    this.inFlightCalls++
  }

  callFinished (tool: string, peer: string, outcome: string, seconds: number): void {
    this.inFlightCalls--
    this.ewmaMs = this.ewmaMs === 0 ? seconds * 1000 : this.ewmaMs * 0.9 + seconds * 100
    this.metrics.record(tool, peer, outcome, seconds)
    let byPeer = this.served.get(tool)
    if (byPeer === undefined) this.served.set(tool, byPeer = new Map<string, number>())
    byPeer.set(peer, (byPeer.get(peer) ?? 0) + 1)
    if (this.inFlightCalls === 0 && this.idleWaiters.length > 0) {
      const w = this.idleWaiters
      this.idleWaiters = []
      for (const f of w) f()
    }
  }

  // ---------------------------------------------------------------------------------------
  // Bootstrap

  private scheduleBootstrap (delayMs: number): void {
    if (this.stopping !== undefined) return
    clearTimeout(this.bootstrapTimer)
    this.bootstrapTimer = setTimeout(() => { void this.bootstrapRound() }, delayMs)
    this.bootstrapTimer.unref()
  }

  private async bootstrapRound (): Promise<void> {
    const node = this.node
    if (node === undefined || this.stopping !== undefined) return
    let pending = 0
    let maxAttempts = 0
    await Promise.all(this.bootstrapState.map(async (b) => {
      if (b.peer !== undefined && node.getConnections(peerIdFromString(b.peer)).length > 0) { b.connected = true; return }
      try {
        await node.dial(multiaddr(b.addr), { signal: AbortSignal.timeout(5_000) })
        b.connected = true
        b.attempts = 0
        delete b.error
      } catch (err) {
        b.connected = false
        b.attempts++
        b.error = (err as Error).message
        pending++
        maxAttempts = Math.max(maxAttempts, b.attempts)
        this.log.warn({ bootstrap: b.addr, attempt: b.attempts }, 'bootstrap peer unreachable: %s', b.error)
      }
    }))
    if (pending > 0) this.scheduleBootstrap(Math.min(DEFAULT_BOOTSTRAP_RETRY_MAX_MS, DEFAULT_BOOTSTRAP_RETRY_MIN_MS * 2 ** Math.min(maxAttempts, 16)))
  }

  // ---------------------------------------------------------------------------------------
  // Health and the built-in mesh server

  /** Honest health: degraded, with the reasons, when there are no peers, no tools, or a hosted upstream is down. */
  health (): NodeHealth {
    const reasons: string[] = []
    const peers = this.node?.getPeers().length ?? 0
    const tools = this.catalog.tools.length
    if (this.stopping !== undefined) reasons.push('shutting down')
    if (peers === 0) reasons.push('no connected peers')
    if (tools === 0) reasons.push('no tools served: no MCP server of the mesh is reachable')
    const upstreams = [...this.upstreams.values()].map((u) => ({ name: u.name, status: u.status, ...(u.lastError === undefined ? {} : { error: u.lastError }) }))
    for (const u of upstreams) if (u.status !== 'up') reasons.push(`upstream ${u.name} is ${u.status}${u.error === undefined ? '' : `: ${u.error}`}`)
    const bootstrap = this.bootstrapState.map((b) => ({ addr: b.addr, connected: b.connected, attempts: b.attempts, ...(b.error === undefined ? {} : { error: b.error }) }))
    for (const b of bootstrap) if (!b.connected) reasons.push(`bootstrap peer ${b.addr} unreachable after ${b.attempts} attempts (retrying)`)
    const status = this.stopping !== undefined ? 'stopping' : reasons.length === 0 ? 'ok' : 'degraded'
    return { status, reasons, peerId: this.node?.peerId.toString() ?? '', peers, tools, upstreams, bootstrap }
  }

  meshTools (): Tool[] {
    return [{
      name: `${MESH_SERVER}__status`,
      title: 'Mesh status',
      description: 'This peer, its health, the peers of the mesh with their load, the servers with their replicas and pool state, and which replica served how many calls of each tool.',
      inputSchema: { type: 'object', properties: {} },
      annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    }]
  }

  meshResources (): Resource[] {
    return [
      { uri: 'mesh://peers', name: `${MESH_SERVER}__peers`, title: 'Peers of the mesh', mimeType: 'application/json' },
      { uri: 'mesh://tools', name: `${MESH_SERVER}__tools`, title: 'Tools of the mesh and who served them', mimeType: 'application/json' },
    ]
  }

  /** The peers of the mesh as this peer knows them. */
  peers (): Array<Record<string, unknown>> {
    const connected = new Set(this.node?.getPeers().map((p) => p.toString()) ?? [])
    return (this.registry?.providers() ?? []).map((p) => ({
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
  tools (): Array<Record<string, unknown>> {
    return this.catalog.tools.map((t) => ({
      name: t.name,
      server: t.server,
      replicas: this.catalog.groups.get(t.server)?.providers ?? [],
      served: Object.fromEntries(this.served.get(t.name) ?? []),
    }))
  }

  /** Everything `mesh__status` returns. */
  status (): Record<string, unknown> {
    return {
      peerId: this.node?.peerId.toString(),
      multiaddrs: this.multiaddrs,
      http: this.http?.url.href,
      health: this.health(),
      peers: this.peers(),
      servers: [...this.catalog.groups.values()].map((g) => ({
        name: g.name, version: g.version, fingerprint: g.fingerprint.slice(0, 16), replicas: g.providers, loaded: g.loaded, tools: g.tools.length,
        conflictingDefinitions: g.conflicting.length,
        pool: this.pools.get(g.name)?.stats().endpoints.map((e) => ({ peer: e.id, state: e.state, breaker: e.breaker, inFlight: e.inFlight, ewmaLatencyMs: e.ewmaLatencyMs, requests: e.requests, failures: e.failures })),
      })),
      tools: this.tools(),
      upstreams: [...this.upstreams.values()].map((u) => ({ name: u.name, status: u.status, restarts: u.restarts, tools: u.tools.length, inFlight: u.inFlight })),
      sessions: this.sessions.size,
      inFlightCalls: this.inFlightCalls,
    }
  }

  callMeshTool (_name: string): Promise<CallToolResult> {
    const status = this.status()
    return Promise.resolve({ content: [{ type: 'text', text: JSON.stringify(status, null, 2) }], structuredContent: status })
  }

  readMeshResource (uri: string): ReadResourceResult | undefined {
    if (uri === 'mesh://peers') return { contents: [{ uri, mimeType: 'application/json', text: JSON.stringify(this.peers(), null, 2) }] }
    if (uri === 'mesh://tools') return { contents: [{ uri, mimeType: 'application/json', text: JSON.stringify(this.tools(), null, 2) }] }
    return undefined
  }

  // ---------------------------------------------------------------------------------------
  // Local clients

  /**
   * A session to the whole mesh for code in this process (principal `local`): an SDK
   * `Client`, already connected. Close it with `client.close()`.
   */
  async connectClient (options: { clientInfo?: Implementation, capabilities?: ClientCapabilities, view?: SessionView } = {}): Promise<Client> {
    if (!this.started) throw new NodeNotStartedError('connectClient()')
    const session = new FrontSession(this, { principal: 'local', door: 'local', view: options.view ?? { kind: 'mesh' }, enforcePolicy: true })
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair()
    await session.server.connect(serverSide)
    const client = new Client(options.clientInfo ?? { name: 'p2p-mcp-local', version: '0.1.0' }, { capabilities: options.capabilities ?? {} })
    await client.connect(clientSide)
    return client
  }

  /** Resolves once the mesh serves a tool named `name` (or rejects after `timeoutMs`). */
  async waitForTool (name: string, options: { timeoutMs?: number, signal?: AbortSignal } = {}): Promise<void> {
    if (this.catalog.tool(name) !== undefined) return
    await new Promise<void>((resolve, reject) => {
      const signal = AbortSignal.any([AbortSignal.timeout(options.timeoutMs ?? 30_000), ...(options.signal === undefined ? [] : [options.signal])])
      const check = (): void => {
        if (this.catalog.tool(name) === undefined) return
        cleanup()
        resolve()
      }
      const onAbort = (): void => { cleanup(); reject(new Error(`tool ${name} did not appear in the mesh: ${String(signal.reason)}`)) }
      const cleanup = (): void => { this.removeEventListener('mesh:changed', check); signal.removeEventListener('abort', onAbort) }
      this.addEventListener('mesh:changed', check)
      signal.addEventListener('abort', onAbort, { once: true })
    })
  }
}

/** Creates a mesh peer from a configuration (validated with zod: a bad field throws `ConfigError`). */
export function createMcpNode (config: McpNodeConfigInput = {}, options: McpNodeOptions = {}): McpNode {
  return new McpNode(config, options)
}
