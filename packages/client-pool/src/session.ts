import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js'
import type { ClientCapabilities, Implementation, ServerNotification } from '@modelcontextprotocol/sdk/types.js'
import { ExponentialBackoff } from 'cockatiel'
import type { IBackoff } from 'cockatiel'
import { ConnectError } from './errors.js'
import type { EndpointSpec, Logger, ScopeHandlers } from './types.js'

/** What a session needs from the pool and scope that own it. */
export interface SessionHost {
  readonly clientInfo: Implementation
  readonly capabilities: ClientCapabilities
  readonly handlers: ScopeHandlers
  readonly reconnect: { initialDelayMs: number, maxDelayMs: number, connectTimeoutMs: number }
  readonly logger: Logger
  sessionOpened: (session: Session, client: Client) => void
  sessionClosed: (session: Session, error: unknown) => void
  toolsChanged: (client: Client) => void
}

/**
 * One upstream MCP session (one SDK `Client` over one transport) from one scope to one
 * endpoint. Opened on first use; after it drops, the next use reopens it, but not before
 * a backoff delay that grows with each failed attempt and resets once a session opens.
 */
export class Session {
  readonly endpointId: string
  /** The open client, or undefined between sessions. */
  client: Client | undefined
  private readonly spec: EndpointSpec
  private readonly host: SessionHost
  private connecting: Promise<Client> | undefined
  private readonly backoffFactory: ExponentialBackoff<unknown>
  private backoff: IBackoff<unknown> | undefined
  private retryAt = 0
  private lastError: unknown
  private closed = false
  private readonly abort = new AbortController()
  private connectAbort: AbortController | undefined

  constructor (spec: EndpointSpec, host: SessionHost) {
    this.endpointId = spec.id
    this.spec = spec
    this.host = host
    this.backoffFactory = new ExponentialBackoff({ initialDelay: host.reconnect.initialDelayMs, maxDelay: host.reconnect.maxDelayMs })
  }

  /**
   * The open client, opening the session if needed; a ConnectError means nothing was sent.
   * `ignoreBackoff` (health checks, which have their own interval) tries at once.
   */
  async open (ignoreBackoff = false): Promise<Client> {
    if (this.client !== undefined) return this.client
    if (this.closed) throw new ConnectError(this.endpointId, 'the session was closed')
    if (this.connecting !== undefined) return await this.connecting
    const wait = ignoreBackoff ? 0 : this.retryAt - Date.now()
    if (wait > 0) {
      throw new ConnectError(this.endpointId, `the last attempt failed (${describe(this.lastError)}), next one in ${Math.ceil(wait)} ms`,
        { cause: this.lastError })
    }
    this.connecting = this.connect()
    try {
      return await this.connecting
    } finally {
      this.connecting = undefined
    }
  }

  /** The session is down and its next attempt to open is not due yet. */
  backingOff (): boolean {
    return this.client === undefined && this.connecting === undefined && this.retryAt > Date.now()
  }

  /** The replica answered again: the next use reopens at once instead of after the backoff. */
  resetBackoff (): void {
    this.backoff = undefined
    this.retryAt = 0
  }

  /** Aborted when the session is closed for good. */
  get signal (): AbortSignal {
    return this.abort.signal
  }

  /** Gives up the connection attempt in progress, if any (a health check timed out waiting for it). */
  abortConnect (reason: Error): void {
    this.connectAbort?.abort(reason)
  }

  /** Closes the session for good. */
  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.abort.abort(new ConnectError(this.endpointId, 'the session was closed'))
    const client = this.client
    this.client = undefined
    if (client !== undefined) {
      try { await client.close() } catch (err) { this.host.logger.debug('closing session to %s: %s', this.endpointId, describe(err)) }
    }
  }

  private async connect (): Promise<Client> {
    const { host } = this
    let client: Client | undefined
    const attempt = new AbortController()
    this.connectAbort = attempt
    const signal = AbortSignal.any([this.abort.signal, attempt.signal])
    try {
      const transport = await this.spec.connect({ signal })
      client = new Client(host.clientInfo, { capabilities: host.capabilities })
      this.install(client)
      const opened = client
      client.onclose = () => { this.dropped(opened) }
      await client.connect(transport, { timeout: host.reconnect.connectTimeoutMs, signal })
      if (this.closed) throw new Error('the session was closed while opening')
    } catch (err) {
      if (client !== undefined) {
        client.onclose = undefined
        void client.close().catch(() => {})
      }
      this.backoff = this.backoff === undefined ? this.backoffFactory.next() : this.backoff.next(undefined)
      this.retryAt = Date.now() + this.backoff.duration
      this.lastError = err
      throw new ConnectError(this.endpointId, describe(err), { cause: err })
    } finally {
      this.connectAbort = undefined
    }
    this.backoff = undefined
    this.retryAt = 0
    this.client = client
    host.sessionOpened(this, client)
    return client
  }

  private dropped (client: Client): void {
    if (this.client !== client) return
    this.client = undefined
    // Wait a little before reopening, so that a replica that keeps dropping sessions is not hammered.
    this.backoff = this.backoff === undefined ? this.backoffFactory.next() : this.backoff.next(undefined)
    this.retryAt = Date.now() + this.backoff.duration
    this.lastError = new Error('the session dropped')
    this.host.sessionClosed(this, this.lastError)
  }

  private install (client: Client): void {
    const { handlers } = this.host
    const endpointId = this.endpointId
    if (handlers.sampling !== undefined) {
      const sampling = handlers.sampling
      client.setRequestHandler(CreateMessageRequestSchema, async (request, extra) =>
        await sampling(request.params, { endpointId, signal: extra.signal }))
    }
    if (handlers.elicitation !== undefined) {
      const elicitation = handlers.elicitation
      client.setRequestHandler(ElicitRequestSchema, async (request, extra) =>
        await elicitation(request.params, { endpointId, signal: extra.signal }))
    }
    if (handlers.roots !== undefined) {
      const roots = handlers.roots
      client.setRequestHandler(ListRootsRequestSchema, async (_request, extra) => await roots({ endpointId, signal: extra.signal }))
    }
    const notification = handlers.notification
    const context = { endpointId, signal: this.abort.signal }
    client.setNotificationHandler(ToolListChangedNotificationSchema, async (n) => {
      this.host.toolsChanged(client)
      if (notification !== undefined) await notification(n, context)
    })
    if (notification !== undefined) {
      client.fallbackNotificationHandler = async (n) => { await notification(n as ServerNotification, context) }
    }
  }
}

export function describe (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
