import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js'
import { createClientPool, type ClientPool, type ClientPoolScope } from '@p2p-mcp/client-pool'
import type { ProviderMatch } from '@p2p-mcp/dht-registry'
import { IdentityVerifier, type IdentityAsserter, type IdentityAssertion } from './auth/hop-identity.js'
import type { Identity } from './auth/principal.js'
import { CallAccounting } from './calls.js'
import { groupProviders, loadGroup, type CatalogChange, type MeshCatalog } from './catalog.js'
import type { McpNodeConfig } from './config.js'
import { DEFAULT_HEALTH_INTERVAL_MS, ROUTE_CLIENT_PREFIX } from './constants.js'
import { errorMessage } from './errors.js'
import { childOf, type Logger } from './logger.js'
import type { MeshTools } from './mesh-tools.js'
import type { NodeMetrics } from './metrics.js'
import type { AccessControl } from './access-control.js'
import type { Policy } from './policy.js'
import { FrontSession, type FrontSessionInit, type SessionHost } from './session.js'
import type { LocalUpstream } from './upstream.js'
import { VERSION } from './version.js'

export interface MeshRouterInit {
  peerId: string
  logger: Logger
  config: Pick<McpNodeConfig, 'balancer' | 'timeouts' | 'pageSize' | 'retry'>
  /** Policy, limits and audit of every request. */
  access: AccessControl
  catalog: MeshCatalog
  builtins: MeshTools
  metrics: NodeMetrics
  /** The upstreams this peer hosts, by name. */
  hosted: ReadonlyMap<string, LocalUpstream>
  /** The providers the registry knows now. */
  providers: () => ProviderMatch[]
  /** Opens an MCP transport to a peer (this peer itself included). */
  connect: (peer: string, addrs: string[], signal: AbortSignal) => Promise<Transport>
  /** Called after the mesh as served here changed (list_changed was sent). */
  onChanged: (change: CatalogChange) => void
  /** Signs callers' identities for the peers calls are routed to. */
  asserter: IdentityAsserter
}

/**
 * Routes the front doors' sessions: keeps the open sessions, one client pool per server of
 * the mesh (its endpoints follow the registry), the catalog, and the accounting of calls.
 * It is the host every `FrontSession` talks to; `McpNode` creates it and never exposes it.
 */
export class MeshRouter implements SessionHost {
  readonly peerId: string
  readonly log: Logger
  readonly policy: Policy
  readonly access: AccessControl
  readonly catalog: MeshCatalog
  readonly builtins: MeshTools
  readonly calls: CallAccounting
  readonly pageSize: number
  private readonly init: MeshRouterInit
  private readonly sessions = new Set<FrontSession>()
  private readonly pools = new Map<string, ClientPool>()
  /** Per server: the route sessions shared by downstream sessions that need none of their own (decision 0155). */
  private readonly shared = new Map<string, ClientPoolScope>()
  private readonly verifier = new IdentityVerifier()
  private isDraining = false
  private stopped = false
  private updateQueued = false
  private updating: Promise<void> = Promise.resolve()
  /** Each provider's latest announcement (`issuedAt`) as of the last update. */
  private readonly announced = new Map<string, number>()

  constructor (init: MeshRouterInit) {
    this.init = init
    this.peerId = init.peerId
    this.log = init.logger
    this.access = init.access
    this.policy = init.access.policy
    this.catalog = init.catalog
    this.builtins = init.builtins
    this.pageSize = init.config.pageSize
    this.calls = new CallAccounting(init.metrics)
  }

  // ---------------------------------------------------------------------------------------
  // Sessions

  /** A new downstream session; the front door connects its `server` to a transport. */
  openSession (init: FrontSessionInit): FrontSession {
    return new FrontSession(this, init)
  }

  get sessionCount (): number { return this.sessions.size }

  /** Open sessions by front door (for the metrics). */
  sessionsByDoor (): Record<string, number> {
    const out: Record<string, number> = {}
    for (const s of this.sessions) out[s.init.door] = (out[s.init.door] ?? 0) + 1
    return out
  }

  opened (session: FrontSession): void {
    this.sessions.add(session)
  }

  closed (session: FrontSession): void {
    this.sessions.delete(session)
    for (const u of this.init.hosted.values()) u.unsubscribeAll(session.id)
  }

  async assertIdentity (identity: Identity): Promise<IdentityAssertion> {
    return await this.init.asserter.assert(identity)
  }

  async verifyIdentity (assertion: unknown, remotePeer: string): Promise<Identity> {
    return await this.verifier.verify(assertion, remotePeer)
  }

  hosted (server: string): LocalUpstream | undefined {
    return this.init.hosted.get(server)
  }

  get draining (): boolean { return this.isDraining }

  /** A hosted upstream changed: tell the route sessions that serve it. */
  hostedChanged (server: string): void {
    for (const s of this.sessions) if (s.resolved().kind === 'route') s.notifyChanged({ tools: true, resources: true, prompts: true }, server)
  }

  /** Stops following the registry (the node is stopping). */
  stopFollowing (): void {
    this.stopped = true
  }

  /** Refuses new calls from now on (they get an error naming another peer to call). */
  drain (): void {
    this.isDraining = true
  }

  async close (): Promise<void> {
    this.stopped = true
    this.isDraining = true
    await Promise.allSettled([...this.sessions].map(async (s) => { await s.close() }))
    await Promise.allSettled([...this.pools.values()].map(async (p) => { await p.close({ signal: AbortSignal.timeout(1_000) }) }))
  }

  // ---------------------------------------------------------------------------------------
  // Calls

  timeoutOf (tool: string): number {
    return this.init.config.timeouts.tools[tool] ?? this.init.config.timeouts.defaultMs
  }

  callStarted (): void { this.calls.started() }

  callFinished (tool: string, peer: string, outcome: string, seconds: number): void {
    this.calls.finished(tool, peer, outcome, seconds)
  }

  // ---------------------------------------------------------------------------------------
  // Pools

  /** The pool of a server of the mesh (sessions call through its scopes). */
  pool (server: string): ClientPool | undefined {
    return this.catalog.groups.has(server) ? this.poolFor(server) : this.pools.get(server)
  }

  /**
   * The shared route sessions of `server`: one per replica, balanced per call (no stickiness:
   * the sessions sharing them hold nothing a replica must keep). A logging message arriving
   * on one goes to every session with a call in flight on that server, as a hosted upstream's
   * does (decision 0062).
   */
  sharedScope (server: string): ClientPoolScope | undefined {
    const existing = this.shared.get(server)
    if (existing !== undefined) return existing
    const pool = this.pool(server)
    if (pool === undefined) return undefined
    const scope = pool.scope({
      sticky: false,
      handlers: {
        notification: (n) => {
          if (n.method !== 'notifications/message') return
          for (const s of this.sessions) s.relayLog(server, n)
        },
      },
    })
    this.shared.set(server, scope)
    return scope
  }

  /** The pool of a server, only when one exists already. */
  existingPool (server: string): ClientPool | undefined {
    return this.pools.get(server)
  }

  /** Every pool, by server (for the metrics). */
  allPools (): ReadonlyMap<string, ClientPool> {
    return this.pools
  }

  private poolFor (server: string): ClientPool {
    let pool = this.pools.get(server)
    if (pool !== undefined) return pool
    const tools: Record<string, number> = {}
    for (const [name, ms] of Object.entries(this.init.config.timeouts.tools)) {
      if (name.startsWith(`${server}__`)) tools[name.slice(server.length + 2)] = ms
    }
    pool = createClientPool({
      balancer: this.init.config.balancer,
      healthCheck: { intervalMs: DEFAULT_HEALTH_INTERVAL_MS, timeoutMs: 2_000, unhealthyThreshold: 2, healthyThreshold: 1 },
      requestTimeoutMs: this.init.config.timeouts.defaultMs,
      retry: { maxAttempts: this.init.config.retry.maxAttempts, budgetPercent: this.init.config.retry.budgetPercent },
      toolTimeoutsMs: tools,
      reconnect: { initialDelayMs: 100, maxDelayMs: 5_000, connectTimeoutMs: 5_000 },
      clientInfo: { name: `${ROUTE_CLIENT_PREFIX}${server}`, version: VERSION },
      logger: childOf(this.log, { pool: server }),
    })
    this.pools.set(server, pool)
    return pool
  }

  // ---------------------------------------------------------------------------------------
  // Following the registry

  /** Every server the registry knows of has its definitions loaded here (none loading, none queued). */
  settled (): boolean {
    return !this.catalog.pending && !this.updateQueued && this.init.providers().every((p) => p.descriptor.servers.every((s) => this.catalog.groups.has(s.name)))
  }

  /** Brings pools and catalog in line with the registry, once at a time (calls coalesce). */
  scheduleUpdate (): void {
    if (this.updateQueued || this.stopped) return
    this.updateQueued = true
    this.updating = this.updating.then(async () => {
      this.updateQueued = false
      if (this.stopped) return
      await this.update().catch((err: unknown) => { this.log.warn('mesh update failed: %s', errorMessage(err)) })
    })
  }

  /** The multiaddrs a provider announces now (none: dial by peer id). */
  private addressesOf (peerId: string): string[] {
    for (const p of this.init.providers()) if (p.peerId === peerId) return p.descriptor.multiaddrs
    return []
  }

  private async update (): Promise<void> {
    const providers = this.init.providers()
    const groups = groupProviders(providers)
    const issued = new Map(providers.map((p) => [p.peerId, p.descriptor.issuedAt]))
    // Endpoints are added before the catalog changes and removed after it: a tool is never
    // listed while its pool has no endpoint for it.
    for (const [name, g] of groups) {
      const pool = this.poolFor(name)
      const have = new Set(pool.ids())
      for (const id of g.providers) {
        if (have.has(id)) {
          // The provider announced itself since the last update: if its endpoint is out of
          // rotation (it restarted before the registry let it go), probe it now instead of
          // at its next health check (docs/decisions/0150). A silent provider is not probed.
          if ((issued.get(id) ?? 0) > (this.announced.get(id) ?? Infinity)) pool.recheck(id)
          continue
        }
        try {
          // The addresses are read when dialling: a replica that restarted on other ports is
          // reached at its new ones.
          pool.add({ id, connect: async ({ signal }) => await this.init.connect(id, this.addressesOf(id), signal) })
        } catch (err) {
          // Still draining from an earlier removal (a peer that left and came back): try again shortly.
          this.log.debug('endpoint %s of %s not added yet: %s', id, name, errorMessage(err))
          setTimeout(() => { this.scheduleUpdate() }, 250).unref()
        }
      }
    }
    this.announced.clear()
    for (const [id, at] of issued) this.announced.set(id, at)
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
      this.init.onChanged(change)
    }
  }
}
