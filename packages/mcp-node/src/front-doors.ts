import type { PeerId } from '@libp2p/interface'
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js'
import { OrderedTransport, serveMcp, type Unserve } from '@p2p-mcp/transport'
import { serve, type MemoryServed, type Served } from '@p2p-mcp/transport/node'
import type { McpNodeConfig } from './config.js'
import { LOCAL_PRINCIPAL, peerPrincipal } from './auth/principal.js'
import { startHttpFrontDoor, type HttpFrontDoor, type HttpHost } from './http.js'
import { childOf, type Logger } from './logger.js'
import { libp2pDoorError, type NodeMetrics } from './metrics.js'
import { waitForMesh, type MeshReadiness } from './mesh-ready.js'
import type { NodeComponents } from './module.js'

/** What the front doors need of the peer. */
export interface FrontDoorsInit {
  config: McpNodeConfig
  components: NodeComponents
  /** Peers allowed to open sessions over libp2p (`allowPeers`), when the mesh has an allow-list. */
  allowPeers: ReadonlySet<string> | undefined
  /** The mesh's HTTP front door also answers these (the 2026 relay, `/healthz`, `/metrics`). */
  http: Pick<HttpHost, 'hasServer' | 'relay' | 'health' | 'metrics'>
  /** The peer, as the stdio wait reads it (joined and loaded). */
  readiness: MeshReadiness
  logger: Logger
  /** Counts the libp2p door's limit events. */
  metrics: NodeMetrics
}

/**
 * The doors through which sessions enter the peer, each bound to its principal and view:
 * in-memory (the peer calling itself, no policy), libp2p (other peers, by peer id), HTTP
 * (clients, by token) and stdio (the one local client). They open in two steps: the peer
 * doors before the hosted upstreams start (other peers may route to us at once), the client
 * doors once the peer has joined. They close in the reverse order, after calls in flight.
 */
export class FrontDoors {
  private selfServe: MemoryServed | undefined
  private unserve: Unserve | undefined
  private httpDoor: HttpFrontDoor | undefined
  private stdio: Served | undefined
  private readonly init: FrontDoorsInit

  constructor (init: FrontDoorsInit) {
    this.init = init
  }

  /** The whole-mesh Streamable HTTP endpoint, once the HTTP door is open. */
  get httpUrl (): URL | undefined {
    return this.httpDoor?.url
  }

  /** What the HTTP door's admission holds, once it is open. */
  httpAdmission (): ReturnType<HttpFrontDoor['stats']> | undefined {
    return this.httpDoor?.stats()
  }

  /** Opens the in-memory door (this peer routing to itself) and the libp2p door (other peers). */
  async openPeerDoors (): Promise<void> {
    const { router, libp2p, peerId } = this.init.components
    const allowPeers = this.init.allowPeers
    this.selfServe = await serve(() => router.openSession({ principal: peerPrincipal(peerId), door: 'memory', view: { kind: 'auto' }, enforcePolicy: false }).server, { type: 'memory' })
    const log = childOf(this.init.logger, { component: 'libp2p-door' })
    const { maxSessions, maxSessionsPerPeer } = this.init.config.libp2pDoor
    this.unserve = await serveMcp(libp2p, (info) => router.openSession({
      principal: peerPrincipal(info.remotePeer.toString()), door: 'libp2p', view: { kind: 'auto' }, enforcePolicy: true,
    }).server, {
      ...(allowPeers === undefined ? {} : { authorize: (peer: PeerId) => allowPeers.has(peer.toString()) }),
      maxSessions,
      maxSessionsPerPeer,
      onerror: (err, info) => { libp2pDoorError(err, info?.sessionId, this.init.metrics, log) },
      logger: log,
    })
  }

  /** Opens the HTTP and stdio doors, as configured; a stdio client waits (bounded) for the mesh's tools. */
  async openClientDoors (): Promise<void> {
    const { config: c, components: { router }, logger } = this.init
    if (c.http.enabled) {
      this.httpDoor = await startHttpFrontDoor({
        ...this.init.http,
        openSession: ({ principal, scopes, view }) => router.openSession({ principal, scopes, door: 'http', view, enforcePolicy: true }),
        access: router.access,
        log: childOf(logger, { component: 'http' }),
      }, c.http)
    }
    if (c.stdio) {
      // A desktop client lists tools once at connect: join the mesh and load it first (bounded).
      if (c.stdioWaitMs > 0 && c.bootstrap.length > 0 && await waitForMesh(this.init.readiness, { timeoutMs: c.stdioWaitMs, heartbeatIntervalMs: c.heartbeatIntervalMs }) === 'timeout') {
        logger.warn('serving stdio before the mesh was joined and loaded (stdioWaitMs %d elapsed): the first tools/list may miss tools', c.stdioWaitMs)
      }
      this.stdio = await serve(() => router.openSession({ principal: LOCAL_PRINCIPAL, door: 'stdio', view: { kind: 'mesh' }, enforcePolicy: true }).server, { type: 'stdio' })
    }
  }

  /** A transport to this peer's own sessions (the router's route to itself). */
  async connectSelf (): Promise<Transport> {
    if (this.selfServe === undefined) throw new Error('the in-memory door is not open')
    return new OrderedTransport(await this.selfServe.connect())
  }

  /** New HTTP sessions are refused from now on; open ones keep working. */
  stopAccepting (): void {
    this.httpDoor?.stopAccepting()
  }

  /** Closes the client doors and the libp2p door (after calls in flight finished). */
  async close (): Promise<void> {
    await this.httpDoor?.close()
    await this.stdio?.close()
    await this.unserve?.()
  }

  /** Closes the in-memory door (after the router closed its routes through it). */
  async closeSelf (): Promise<void> {
    await this.selfServe?.close()
  }
}
