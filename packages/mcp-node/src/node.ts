import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Libp2p } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js'
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js'
import type { ClientCapabilities, Implementation } from '@modelcontextprotocol/sdk/types.js'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type {
  McpServer, PromptCallback, ReadResourceCallback, ReadResourceTemplateCallback, ResourceMetadata, ResourceTemplate, ToolCallback,
} from '@modelcontextprotocol/sdk/server/mcp.js'
import type { AnySchema, ZodRawShapeCompat } from '@modelcontextprotocol/sdk/server/zod-compat.js'
import type { ToolAnnotations } from '@modelcontextprotocol/sdk/types.js'
import { dialMcp, OrderedTransport } from '@p2p-mcp/transport'
import { FsDatastore } from 'datastore-fs'
import { TypedEventEmitter } from 'main-event'
import { IdentityAsserter } from './auth/hop-identity.js'
import { LOCAL_PRINCIPAL } from './auth/principal.js'
import { Bootstrapper } from './bootstrap.js'
import { MeshCatalog, type CatalogChange } from './catalog.js'
import { parseConfig, type McpNodeConfig, type McpNodeConfigInput } from './config.js'
import { DEFAULT_SHUTDOWN_GRACE_MS, MESH_SERVER } from './constants.js'
import { ConfigError, DuplicateUpstreamError, NodeNotStartedError } from './errors.js'
import { nodeHealth, type NodeHealth } from './health.js'
import { checkExposure } from './exposure.js'
import { features, type Access } from './features.js'
import { FrontDoors } from './front-doors.js'
import { DATASTORE_DIR, loadOrCreateKey } from './identity.js'
import { createPeerLibp2p, type PeerServices } from './libp2p.js'
import { LocalServer } from './local-server.js'
import { modernRelay } from './modern-relay.js'
import { childOf, noopLogger, type Logger } from './logger.js'
import { meshPeers, meshStatusOf, meshToolsServed } from './mesh-status.js'
import { MeshTools } from './mesh-tools.js'
import { NodeMetrics } from './metrics.js'
import type { NodeComponents, NodeModule } from './module.js'
import { LayeredPolicy } from './control-plane/layered-policy.js'
import { AccessControl } from './access-control.js'
import { AuditLog } from './audit/audit-log.js'
import { CallLimiter } from './limits/limiter.js'
import { LimitPlan } from './limits/limit-plan.js'
import { legacyPrincipalWarning } from './policy.js'
import type { MeshEvents } from './events/events-module.js'
import { ServerTrust } from './trust/server-trust.js'
import { Publisher } from './publisher.js'
import { MeshRouter } from './router.js'
import type { SessionView } from './session.js'
import { LocalUpstream, type UpstreamSpec } from './upstream.js'
import { VERSION } from './version.js'

/** Options that cannot be written in a config file. */
export interface McpNodeOptions {
  /** Structured logger (pino fits). @default no logging */
  logger?: Logger
  /** Name under which `registerTool()` / `registerResource()` / `registerPrompt()` are hosted. @default 'local' */
  localServerName?: string
}

export interface McpNodeEvents {
  /** The mesh's tools, resources or prompts as served here changed (list_changed was sent). */
  'mesh:changed': CustomEvent<CatalogChange>
  /** A hosted upstream went up or down or changed what it offers. */
  'upstream:changed': CustomEvent<{ name: string, status: string }>
  'peer:connect': CustomEvent<{ peerId: string }>
  'peer:disconnect': CustomEvent<{ peerId: string }>
}

/** What exists only while the node runs. */
interface Running {
  libp2p: Libp2p<PeerServices>
  components: NodeComponents
  router: MeshRouter
  publisher: Publisher
  bootstrap: Bootstrapper
  modules: NodeModule[]
  doors?: FrontDoors
  datastore?: FsDatastore
}

/**
 * A mesh peer: its lifecycle and the MCP servers it hosts. Starting it wires libp2p (with the
 * registry service), the router that serves the front doors' sessions, the publisher of the
 * hosted servers, the bootstrapper and the feature modules; it owns none of their logic.
 */
export class McpNode extends TypedEventEmitter<McpNodeEvents> {
  readonly config: McpNodeConfig
  readonly metrics: NodeMetrics
  private log: Logger
  private readonly policy: LayeredPolicy
  private readonly access: Access
  private readonly catalog: MeshCatalog
  /** Which providers are replicas of a server name (pins) and which peers are banned. */
  private readonly trust: ServerTrust
  private readonly builtins: MeshTools
  private readonly upstreams = new Map<string, LocalUpstream>()
  private readonly localServer: LocalServer
  private running: Running | undefined
  private eventsApi: MeshEvents | undefined
  private starting: Promise<void> | undefined
  private stopping: Promise<void> | undefined
  private started = false

  constructor (config: McpNodeConfigInput, options: McpNodeOptions = {}) {
    super()
    this.config = parseConfig(config)
    this.log = options.logger ?? noopLogger
    this.localServer = new LocalServer(options.localServerName ?? 'local')
    this.policy = new LayeredPolicy(this.config.policy, this.config.controlPlane.admins)
    const legacy = legacyPrincipalWarning(this.config.policy, this.config.controlPlane.admins)
    if (legacy !== undefined) this.log.warn(legacy)
    this.catalog = new MeshCatalog(childOf(this.log, { component: 'catalog' }))
    this.trust = new ServerTrust({ config: this.config.trust, controlPlaneEnabled: this.config.controlPlane.enabled, logger: childOf(this.log, { component: 'trust' }) })
    this.builtins = new MeshTools(this.config.meshTools)
    this.metrics = new NodeMetrics({
      peers: () => this.running?.libp2p.getPeers().length ?? 0,
      meshTools: () => this.catalog.tools.length,
      sessions: () => this.running?.router.sessionsByDoor() ?? {},
      upstreams: () => [...this.upstreams.values()].map((u) => ({ name: u.name, up: u.status === 'up', restarts: u.restarts })),
      pools: () => [...this.running?.router.allPools() ?? []].map(([server, p]) => {
        const s = p.stats()
        return { server, endpoints: s.endpoints.map((e) => ({ id: e.id, state: e.state, breaker: e.breaker, inFlight: e.inFlight })), retries: s.retries, budgetExhausted: s.budgetExhausted }
      }),
      registry: () => ({ ...(this.running?.libp2p.services.registry.stats() ?? {}) }),
      limits: () => ({ keys: this.access.limiter.size, ...this.access.gossipStats }),
      httpAdmission: () => this.running?.doors?.httpAdmission(),
    })
    const c = this.config
    this.access = {
      // Usage gossiped more than a few intervals ago is from a peer that left or stalled.
      limiter: new CallLimiter({ maxKeys: c.limits.maxKeys, staleMs: Math.max(2_000, 4 * c.limits.shareIntervalMs) }),
      audit: new AuditLog({ maxEntries: c.audit.maxEntries, counter: this.metrics.audit, ...(c.audit.log ? { logger: childOf(this.log, { component: 'audit' }) } : {}) }),
    }
    checkExposure(this.config)
    for (const u of this.config.upstreams) this.addUpstreamNow(u)
  }

  /** This peer's id (after `start()`). */
  get peerId (): string {
    if (this.running === undefined) throw new NodeNotStartedError('peerId')
    return this.running.components.peerId
  }

  /** The mesh's event stream at this peer (after `start()`, when `events.enabled`). */
  get events (): MeshEvents {
    if (this.eventsApi === undefined) throw new NodeNotStartedError('events')
    return this.eventsApi
  }

  /** The libp2p node (after `start()`). */
  get libp2p (): Libp2p<PeerServices> {
    if (this.running === undefined) throw new NodeNotStartedError('libp2p')
    return this.running.libp2p
  }

  /** Listening multiaddrs, each ending in `/p2p/<peer id>`. */
  get multiaddrs (): string[] {
    return this.running?.libp2p.getMultiaddrs().map((ma) => ma.toString()) ?? []
  }

  /** The whole-mesh Streamable HTTP endpoint, when the HTTP front door is enabled and started. */
  get httpUrl (): URL | undefined {
    return this.running?.doors?.httpUrl
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
    this.running?.publisher.schedule()
  }

  private addUpstreamNow (spec: UpstreamSpec): LocalUpstream {
    if (spec.name === MESH_SERVER) throw new ConfigError('upstreams.name', `"${MESH_SERVER}" is reserved for the built-in mesh tools`)
    if (this.upstreams.has(spec.name)) throw new DuplicateUpstreamError(spec.name)
    const upstream = new LocalUpstream(spec, { logger: this.log, clientInfo: { name: 'p2p-mcp-node', version: VERSION } })
    upstream.addEventListener('changed', () => {
      this.safeDispatchEvent('upstream:changed', { detail: { name: upstream.name, status: upstream.status } })
      this.running?.router.hostedChanged(upstream.name)
      if (this.stopping === undefined) this.running?.publisher.schedule()
    })
    this.upstreams.set(spec.name, upstream)
    return upstream
  }

  private registered (registration: (server: McpServer) => void): void {
    const name = this.localServer.name
    if (!this.upstreams.has(name)) this.addUpstreamNow(this.localServer.spec())
    this.localServer.add(registration, this.started ? () => { void this.upstreams.get(name)?.reconnect() } : undefined)
  }

  /**
   * Hosts a tool in this process, under the server `localServerName`: the arguments of the SDK's
   * `McpServer.registerTool`, typed the same way (the handler's arguments come from `inputSchema`).
   */
  registerTool<OutputArgs extends ZodRawShapeCompat | AnySchema, InputArgs extends undefined | ZodRawShapeCompat | AnySchema = undefined> (
    name: string,
    config: { title?: string, description?: string, inputSchema?: InputArgs, outputSchema?: OutputArgs, annotations?: ToolAnnotations, _meta?: Record<string, unknown> },
    callback: ToolCallback<InputArgs>,
  ): void {
    this.registered((s) => { s.registerTool(name, config, callback) })
  }

  /** Hosts a resource in this process (the arguments of `McpServer.registerResource`). */
  registerResource (name: string, uri: string, config: ResourceMetadata, callback: ReadResourceCallback): void
  registerResource (name: string, template: ResourceTemplate, config: ResourceMetadata, callback: ReadResourceTemplateCallback): void
  registerResource (name: string, uriOrTemplate: string | ResourceTemplate, config: ResourceMetadata, callback: ReadResourceCallback | ReadResourceTemplateCallback): void {
    this.registered((s) => {
      if (typeof uriOrTemplate === 'string') s.registerResource(name, uriOrTemplate, config, callback as ReadResourceCallback)
      else s.registerResource(name, uriOrTemplate, config, callback as ReadResourceTemplateCallback)
    })
  }

  /** Hosts a prompt in this process (the arguments of `McpServer.registerPrompt`, typed the same way). */
  registerPrompt<Args extends ZodRawShapeCompat> (name: string, config: { title?: string, description?: string, argsSchema?: Args }, callback: PromptCallback<Args>): void {
    this.registered((s) => { s.registerPrompt(name, config, callback) })
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
    const bootstrap = new Bootstrapper(c.bootstrap, this.log, c.psk !== undefined)
    const privateKey = c.dataDir === undefined ? await generateKeyPair('Ed25519') : await loadOrCreateKey(c.dataDir)
    let datastore: FsDatastore | undefined
    if (c.dataDir !== undefined) {
      datastore = new FsDatastore(join(c.dataDir, DATASTORE_DIR))
      await datastore.open()
    }
    const libp2p = await createPeerLibp2p(c, {
      privateKey,
      ...(datastore === undefined ? {} : { datastore }),
      banned: (peerId) => this.trust.isBanned(peerId),
      registry: {
        heartbeatIntervalMs: c.heartbeatIntervalMs,
        logger: this.log, // the registry names itself (component: dht-registry)
        load: () => this.running?.router.calls.load() ?? { inFlight: 0, ewmaLatencyMs: 0 },
      },
    })
    const selfId = libp2p.peerId.toString()
    this.log = childOf(this.log, { peer: selfId.slice(-8) })
    const registry = libp2p.services.registry
    const plan = new LimitPlan(this.policy, (server) => this.upstreams.get(server)?.spec.accessPolicy)
    const router = new MeshRouter({
      peerId: selfId,
      logger: this.log,
      config: c,
      access: new AccessControl({ self: selfId, policy: this.policy, plan, limiter: this.access.limiter, audit: this.access.audit }),
      catalog: this.catalog,
      builtins: this.builtins,
      metrics: this.metrics,
      hosted: this.upstreams,
      // Only the replicas of each name as its pins say, banned peers left out (docs/security.md).
      providers: () => this.trust.filter(registry.providers()),
      connect: async (peer, addrs, signal) => await this.connectTo(peer, addrs, signal),
      onChanged: (change) => { this.safeDispatchEvent('mesh:changed', { detail: change }) },
      asserter: new IdentityAsserter({ peerId: selfId, sign: async (data) => await privateKey.sign(data) }),
    })
    const components: NodeComponents = {
      peerId: selfId,
      libp2p,
      registry,
      router,
      logger: this.log,
      hosted: () => this.upstreams.values(),
      health: () => this.health(),
      multiaddrs: () => this.multiaddrs,
      httpUrl: () => this.httpUrl,
      sign: async (data) => privateKey.sign(data),
    }
    this.running = {
      libp2p,
      components,
      router,
      publisher: new Publisher({ registry, hosted: () => this.upstreams.values(), logger: this.log, onPublished: () => { router.scheduleUpdate() } }),
      bootstrap,
      modules: [],
      ...(datastore === undefined ? {} : { datastore }),
    }
    const running = this.running
    libp2p.addEventListener('peer:connect', (e) => { this.safeDispatchEvent('peer:connect', { detail: { peerId: e.detail.toString() } }) })
    libp2p.addEventListener('peer:disconnect', (e) => { this.safeDispatchEvent('peer:disconnect', { detail: { peerId: e.detail.toString() } }) })
    for (const evt of ['provider:added', 'provider:updated', 'provider:removed'] as const) {
      registry.addEventListener(evt, () => { router.scheduleUpdate() })
    }
    registry.addEventListener('provider:removed', (e) => { this.log.info({ provider: e.detail.peerId, reason: e.detail.reason }, 'provider left the mesh') })
    registry.addEventListener('provider:added', (e) => { this.log.info({ provider: e.detail.peerId, servers: e.detail.descriptor.servers.map((x) => x.name) }, 'provider joined the mesh') })
    await libp2p.start()

    for (const factory of features(c, { policy: this.policy, metrics: this.metrics, access: this.access, trust: this.trust }, (api) => { this.eventsApi = api })) {
      const module = factory(components)
      await module.start?.()
      running.modules.push(module)
      this.builtins.add(module)
    }

    const allowPeers = c.allowPeers === undefined ? undefined : new Set(c.allowPeers)
    // 2026-07-28 requests relayed as they are between peers (decision 0072).
    const relay = modernRelay(allowPeers === undefined ? {} : { allowPeers })(components)
    await relay.start?.()
    running.modules.push(relay)
    const doors = new FrontDoors({
      config: c, components, allowPeers, readiness: this, logger: this.log, metrics: this.metrics,
      http: {
        hasServer: (name) => this.catalog.groups.has(name),
        relay: relay.relay,
        health: () => this.health(),
        metrics: async () => ({ contentType: this.metrics.registry.contentType, body: await this.metrics.registry.metrics() }),
      },
    })
    running.doors = doors
    await doors.openPeerDoors()

    await Promise.all([...this.upstreams.values()].map(async (u) => { await u.start() }))
    this.started = true
    // Gossip announces at once; the DHT part may take its time (and times out alone in a one-peer mesh).
    void running.publisher.publish()
    bootstrap.start(libp2p, this.log)
    await doors.openClientDoors()
    router.scheduleUpdate()
    this.log.info({ peerId: selfId, addrs: this.multiaddrs, http: this.httpUrl?.href }, 'mesh peer started')
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
    const r = this.running
    this.log.info('stopping: withdrawing, finishing calls in flight')
    this.localServer.stop()
    if (r !== undefined) {
      r.bootstrap.stop()
      r.router.stopFollowing()
      await r.publisher.stop()
      r.doors?.stopAccepting()
      if (r.router.calls.inFlight > 0) {
        await r.router.calls.idle(graceMs)
        // A call counts as finished in its handler, a few microtasks before the SDK hands its
        // response to the transport: let those responses be queued before the doors close
        // (closing a transport flushes what is queued, not what is still to come).
        await new Promise<void>((resolve) => { setImmediate(resolve) })
      }
      r.router.drain()
      await r.doors?.close()
      await r.router.close()
      await r.doors?.closeSelf()
    }
    await Promise.allSettled([...this.upstreams.values()].map(async (u) => { await u.stop() }))
    if (r !== undefined) {
      for (const m of [...r.modules].reverse()) await m.stop?.().catch((err: unknown) => { this.log.warn('module %s did not stop cleanly: %s', m.name, String(err)) })
      await r.libp2p.stop()
      await r.datastore?.close()
    }
    this.started = false
    this.log.info('stopped')
  }

  private async connectTo (peer: string, addrs: string[], signal: AbortSignal): Promise<Transport> {
    const r = this.running!
    if (peer === r.components.peerId) return await r.doors!.connectSelf()
    const suffix = `/p2p/${peer}`
    const targets: Multiaddr[] = addrs.map((a) => multiaddr(a.endsWith(suffix) ? a : `${a}${suffix}`))
    return new OrderedTransport(await dialMcp(r.libp2p, targets.length > 0 ? targets : peerIdFromString(peer), { signal }))
  }

  // ---------------------------------------------------------------------------------------
  // What the node reports

  /** Honest health: degraded, with the reasons, when there are no peers, no tools, or a hosted upstream is down. */
  health (): NodeHealth {
    const r = this.running
    return nodeHealth({
      stopping: this.stopping !== undefined,
      peerId: r?.components.peerId ?? '',
      peers: r?.libp2p.getPeers().length ?? 0,
      tools: this.catalog.tools.length,
      listed: this.builtins.list('http').length, // what /healthz's clients (HTTP) list
      requirePeers: this.config.health.requirePeers,
      hosted: this.upstreams.values(),
      bootstrap: r?.bootstrap.status() ?? [],
      reasons: r?.modules.flatMap((m) => m.healthReasons?.() ?? []) ?? [],
    })
  }

  /** Every server the registry knows of has loaded definitions here (used before a stdio client is served). */
  settled (): boolean {
    return (this.running?.router.settled() ?? false) && this.trust.held.length === 0
  }

  /** The peers of the mesh as this peer knows them (empty before `start()`). */
  peers (): Array<Record<string, unknown>> {
    return this.running === undefined ? [] : meshPeers(this.running.components)
  }

  /** The tools of the mesh, their replicas, and how many calls each replica served here (empty before `start()`). */
  tools (): Array<Record<string, unknown>> {
    return this.running === undefined ? [] : meshToolsServed(this.running.components)
  }

  /** Everything `mesh__status` returns (after `start()`). */
  status (): Record<string, unknown> {
    if (this.running === undefined) throw new NodeNotStartedError('status()')
    return meshStatusOf(this.running.components)
  }

  // ---------------------------------------------------------------------------------------
  // Local clients

  /**
   * A session to the whole mesh for code in this process (principal `local`): an SDK
   * `Client`, already connected. Close it with `client.close()`.
   */
  async connectClient (options: { clientInfo?: Implementation, capabilities?: ClientCapabilities, view?: SessionView } = {}): Promise<Client> {
    if (!this.started) throw new NodeNotStartedError('connectClient()')
    const session = this.running!.router.openSession({ principal: LOCAL_PRINCIPAL, door: 'local', view: options.view ?? { kind: 'mesh' }, enforcePolicy: true })
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair()
    await session.server.connect(serverSide)
    const client = new Client(options.clientInfo ?? { name: 'p2p-mcp-local', version: VERSION }, { capabilities: options.capabilities ?? {} })
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
