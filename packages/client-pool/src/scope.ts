import type { Client } from '@modelcontextprotocol/sdk/client/index.js'
import type { ClientCapabilities, Implementation } from '@modelcontextprotocol/sdk/types.js'
import type { IBackoff } from 'cockatiel'
import type { Endpoint } from './endpoint.js'
import { PoolClosedError } from './errors.js'
import { Session } from './session.js'
import type { SessionHost } from './session.js'
import type { Logger, ScopeHandlers, ScopeInit } from './types.js'

/** What every scope of a pool shares: session settings and the pool's session callbacks. */
export interface PoolHooks {
  readonly clientInfo: Implementation
  readonly reconnect: SessionHost['reconnect']
  readonly logger: Logger
  readonly opened: (session: Session, client: Client) => void
  readonly closed: (session: Session, error: unknown) => void
  readonly toolsChanged: (client: Client) => void
  readonly subscriptionsLost: (scope: ScopeCore) => void
}

/** The sessions and stickiness of one scope; the pool itself is the root scope. */
export class ScopeCore implements SessionHost {
  readonly clientInfo: Implementation
  readonly capabilities: ClientCapabilities
  readonly handlers: ScopeHandlers
  readonly reconnect: SessionHost['reconnect']
  readonly logger: Logger
  readonly sticky: boolean
  readonly extendTimeoutOnProgress: boolean | undefined
  readonly sessions = new Map<string, Session>()
  private pin: Endpoint | undefined
  /** The pool's rotation count when the scope was pinned to `stickyId` (docs/decisions/0150). */
  pinnedAt = 0
  /** Whether the scope may move when a replica (re)joins rotation. */
  readonly rebalance: boolean
  /** Calls of the scope in progress. */
  inFlight = 0
  closed = false
  /** Subscribed resource URIs (docs/decisions/0036). */
  readonly subscriptions = new Set<string>()
  /** The endpoint whose session holds the subscriptions. */
  subsEndpoint: string | undefined
  /** Subscription requests and moves run one at a time. */
  subsQueue: Promise<unknown> = Promise.resolve()
  movePending = false
  moveTimer: ReturnType<typeof setTimeout> | undefined
  moveBackoff: IBackoff<unknown> | undefined
  private readonly hooks: PoolHooks

  constructor (hooks: PoolHooks, init: ScopeInit, sticky: boolean) {
    this.hooks = hooks
    this.clientInfo = hooks.clientInfo
    this.capabilities = init.capabilities ?? {}
    this.handlers = init.handlers ?? {}
    this.reconnect = hooks.reconnect
    this.logger = hooks.logger
    this.sticky = sticky
    this.rebalance = init.rebalance ?? true
    this.extendTimeoutOnProgress = init.extendTimeoutOnProgress
  }

  /** The endpoint a sticky scope sends its calls to while it is eligible. */
  get stickyId (): string | undefined { return this.pin?.id }

  /** Pins the scope to `endpoint` (or unpins it), keeping the endpoints' counts of pinned scopes. */
  pinTo (endpoint: Endpoint | undefined): void {
    if (endpoint === this.pin) return
    if (this.pin !== undefined) this.pin.pinnedScopes--
    if (endpoint !== undefined) endpoint.pinnedScopes++
    this.pin = endpoint
  }

  session (endpoint: Endpoint): Session {
    let session = this.sessions.get(endpoint.id)
    if (session === undefined) {
      // A call still retrying after a forced close must not open a new session.
      if (this.closed) throw new PoolClosedError('pool scope')
      session = new Session(endpoint.spec, this)
      this.sessions.set(endpoint.id, session)
      endpoint.sessions.add(session)
    }
    return session
  }

  sessionOpened (session: Session, client: Client): void { this.hooks.opened(session, client) }
  sessionClosed (session: Session, error: unknown): void {
    this.hooks.closed(session, error)
    if (session.endpointId === this.subsEndpoint && this.subscriptions.size > 0 && !this.closed) this.hooks.subscriptionsLost(this)
  }
  toolsChanged (client: Client): void { this.hooks.toolsChanged(client) }

  async closeEndpoint (endpoint: Endpoint): Promise<void> {
    const session = this.sessions.get(endpoint.id)
    if (session === undefined) return
    this.sessions.delete(endpoint.id)
    endpoint.sessions.delete(session)
    await session.close()
  }

  async close (endpoints: Iterable<Endpoint>): Promise<void> {
    this.closed = true
    this.pinTo(undefined)
    if (this.moveTimer !== undefined) clearTimeout(this.moveTimer)
    this.moveTimer = undefined
    await Promise.all([...endpoints].map(async (e) => { await this.closeEndpoint(e) }))
  }
}

