import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js'
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js'
import {
  CreateMessageRequestSchema, CreateMessageResultSchema, ElicitRequestSchema, ElicitResultSchema, ErrorCode,
  ListRootsRequestSchema, ListRootsResultSchema, McpError,
} from '@modelcontextprotocol/sdk/types.js'
import type {
  CallToolRequest, CallToolResult, ClientCapabilities, CompleteRequest, CompleteResult, GetPromptRequest, GetPromptResult,
  Implementation, LoggingLevel, Progress, Prompt, ReadResourceRequest, ReadResourceResult, Resource, ResourceTemplate,
  ServerNotification, ServerRequest, Tool, ClientRequest,
} from '@modelcontextprotocol/sdk/types.js'
import { connect } from '@p2p-mcp/transport/node'
import { OrderedTransport, type McpServerLike } from '@p2p-mcp/transport'
import { TypedEventEmitter } from 'main-event'
import type { ServerAccessPolicy, UpstreamConfig } from './config.js'
import { DEFAULT_RESTART_MAX_MS, DEFAULT_RESTART_MIN_MS } from './constants.js'
import { Backoff } from './backoff.js'
import { allPages } from './catalog.js'
import { errorMessage } from './errors.js'
import type { Logger } from './logger.js'

/** An MCP server hosted in this process: a factory, called again on every (re)connection. */
export interface InProcessUpstreamSpec {
  name: string
  type: 'in-process'
  /** Rate and concurrency limits this peer enforces for the server and announces in its descriptor. */
  accessPolicy?: ServerAccessPolicy
  server: () => McpServerLike | Promise<McpServerLike>
}

/** What `addUpstream()` takes: a stdio child, a Streamable HTTP URL, or an in-process server. */
export type UpstreamSpec = UpstreamConfig | InProcessUpstreamSpec

export type UpstreamStatus = 'starting' | 'up' | 'restarting' | 'stopped'

/** A call in flight on an upstream, with the way back to the session that made it. */
export interface CallContext {
  readonly sessionKey: string
  readonly capabilities: ClientCapabilities | undefined
  readonly logLevel: () => LoggingLevel | undefined
  readonly sendRequest: (request: ServerRequest, signal: AbortSignal) => Promise<unknown>
  readonly sendNotification: (notification: ServerNotification) => Promise<void>
}

export interface UpstreamEvents {
  /** Its tools, resources or prompts changed, or it went up or down. */
  changed: CustomEvent<{ name: string }>
}

const LEVELS: LoggingLevel[] = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency']

/** True when a message at `level` passes a session whose threshold is `threshold`. */
export function levelPasses (level: LoggingLevel, threshold: LoggingLevel | undefined): boolean {
  return threshold === undefined || LEVELS.indexOf(level) >= LEVELS.indexOf(threshold)
}

/**
 * One MCP server hosted by this peer, reached over one client session (a stdio child, an
 * HTTP URL or an in-process server), restarted with exponential backoff when it dies. Its
 * tools, resources and prompts are listed after each (re)connection and list_changed.
 * Server-to-client traffic has no request id on the wire, so it goes back to the session of
 * the oldest call in flight that can take it (decision 0062).
 */
export class LocalUpstream extends TypedEventEmitter<UpstreamEvents> {
  readonly name: string
  readonly spec: UpstreamSpec
  status: UpstreamStatus = 'starting'
  lastError: string | undefined
  restarts = 0
  serverInfo: Implementation | undefined
  tools: Tool[] = []
  resources: Resource[] = []
  resourceTemplates: ResourceTemplate[] = []
  prompts: Prompt[] = []
  private client: Client | undefined
  private readonly inflight = new Set<CallContext>()
  /** Resource subscriptions: URI → the sessions subscribed to it, each with where its updates go. */
  private readonly subscribers = new Map<string, Map<string, (params: { uri: string }) => Promise<void>>>()
  private readonly log: Logger
  private readonly clientInfo: Implementation
  private readonly backoff = new Backoff(DEFAULT_RESTART_MIN_MS, DEFAULT_RESTART_MAX_MS)
  private timer: ReturnType<typeof setTimeout> | undefined
  private stopped = false
  private connecting: Promise<void> | undefined

  constructor (spec: UpstreamSpec, init: { logger: Logger, clientInfo: Implementation }) {
    super()
    this.name = spec.name
    this.spec = spec
    this.log = init.logger.child?.({ upstream: spec.name }) ?? init.logger
    this.clientInfo = init.clientInfo
  }

  /** Connects (once); a failure schedules a restart and resolves. */
  async start (): Promise<void> {
    this.stopped = false
    this.connecting ??= this.connectOnce().finally(() => { this.connecting = undefined })
    await this.connecting
  }

  async stop (): Promise<void> {
    this.stopped = true
    this.status = 'stopped'
    clearTimeout(this.timer)
    const client = this.client
    this.client = undefined
    if (client !== undefined) await client.close().catch(() => {})
  }

  /** Closes and reopens the session now (in-process servers whose registrations changed). */
  async reconnect (): Promise<void> {
    const client = this.client
    this.client = undefined
    if (client !== undefined) {
      client.onclose = undefined
      await client.close().catch(() => {})
    }
    clearTimeout(this.timer)
    await this.start()
  }

  get inFlight (): number {
    return this.inflight.size
  }

  private async connectOnce (): Promise<void> {
    if (this.stopped) return
    const client = new Client(this.clientInfo, {
      capabilities: { sampling: {}, elicitation: {}, roots: { listChanged: true } },
    })
    this.install(client)
    try {
      const transport = new OrderedTransport(await this.open())
      client.onclose = () => { this.dropped(client) }
      await client.connect(transport, { timeout: 30_000 })
      if (this.stopped) { await client.close(); return }
      this.client = client
      this.serverInfo = client.getServerVersion()
      this.backoff.reset()
      await this.refresh()
      if (this.subscribers.size > 0) await this.resubscribe(client)
      this.status = 'up'
      this.lastError = undefined
      this.log.info('upstream %s up (%d tools)', this.name, this.tools.length)
      this.emitChanged()
    } catch (err) {
      client.onclose = undefined
      await client.close().catch(() => {})
      this.lastError = errorMessage(err)
      this.log.warn('upstream %s failed to start: %s', this.name, this.lastError)
      this.scheduleRestart()
    }
  }

  private async open (): Promise<Transport> {
    const spec = this.spec
    if (spec.type === 'stdio') {
      return await connect({
        type: 'stdio',
        command: spec.command,
        args: spec.args,
        env: spec.env,
        ...(spec.cwd === undefined ? {} : { cwd: spec.cwd }),
        onstderr: (text) => { for (const line of text.split('\n')) if (line.trim() !== '') this.log.info('stderr: %s', line) },
      })
    }
    if (spec.type === 'http') return await connect({ type: 'http', url: spec.url, headers: spec.headers })
    const server = await spec.server()
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair()
    await server.connect(serverSide)
    return clientSide
  }

  private dropped (client: Client): void {
    if (this.client !== client) return
    this.client = undefined
    if (this.stopped) return
    this.lastError = 'the upstream session closed (process exited or connection lost)'
    this.log.warn('upstream %s went down: %s', this.name, this.lastError)
    this.tools = []
    this.resources = []
    this.resourceTemplates = []
    this.prompts = []
    this.scheduleRestart()
    this.emitChanged()
  }

  private scheduleRestart (): void {
    if (this.stopped) return
    this.status = 'restarting'
    const delay = this.backoff.next()
    clearTimeout(this.timer)
    this.timer = setTimeout(() => {
      this.restarts++
      void this.start()
    }, delay)
    this.timer.unref()
  }

  private emitChanged (): void {
    this.safeDispatchEvent('changed', { detail: { name: this.name } })
  }

  /** Lists tools, resources, templates and prompts (every page) from the open session. */
  async refresh (): Promise<void> {
    const client = this.client
    if (client === undefined) return
    const caps = client.getServerCapabilities() ?? {}
    const all = allPages
    this.tools = caps.tools === undefined ? [] : await all(async (c) => { const r = await client.listTools(c === undefined ? {} : { cursor: c }); return { items: r.tools, next: r.nextCursor } })
    this.resources = caps.resources === undefined ? [] : await all(async (c) => { const r = await client.listResources(c === undefined ? {} : { cursor: c }); return { items: r.resources, next: r.nextCursor } })
    this.resourceTemplates = caps.resources === undefined
      ? []
      : await all(async (c) => { const r = await client.listResourceTemplates(c === undefined ? {} : { cursor: c }); return { items: r.resourceTemplates, next: r.nextCursor } })
        .catch(() => [])
    this.prompts = caps.prompts === undefined ? [] : await all(async (c) => { const r = await client.listPrompts(c === undefined ? {} : { cursor: c }); return { items: r.prompts, next: r.nextCursor } })
  }

  private live (): Client {
    const client = this.client
    if (client === undefined) throw new McpError(ErrorCode.InternalError, `upstream ${this.name} is not running (${this.lastError ?? this.status}); it is being restarted`)
    return client
  }

  async callTool (params: CallToolRequest['params'], ctx: CallContext, options: { signal: AbortSignal, timeoutMs: number, onprogress: (p: Progress) => void }): Promise<CallToolResult> {
    const client = this.live()
    this.inflight.add(ctx)
    try {
      return await client.callTool(params, undefined, {
        signal: options.signal, timeout: options.timeoutMs, resetTimeoutOnProgress: true, onprogress: options.onprogress,
      }) as CallToolResult
    } finally {
      this.inflight.delete(ctx)
    }
  }

  async readResource (params: ReadResourceRequest['params'], signal: AbortSignal): Promise<ReadResourceResult> {
    return await this.live().readResource(params, { signal })
  }

  async getPrompt (params: GetPromptRequest['params'], signal: AbortSignal): Promise<GetPromptResult> {
    return await this.live().getPrompt(params, { signal })
  }

  async complete (params: CompleteRequest['params'], signal: AbortSignal): Promise<CompleteResult> {
    return await this.live().complete(params, { signal })
  }

  /**
   * Subscribes session `sessionKey` to `uri`: the upstream's one session subscribes once per
   * URI; its `notifications/resources/updated` go to every session subscribed to that URI.
   */
  async subscribe (uri: string, sessionKey: string, onUpdated: (params: { uri: string }) => Promise<void>, signal: AbortSignal): Promise<Record<string, unknown>> {
    const client = this.live()
    let sessions = this.subscribers.get(uri)
    if (sessions === undefined) {
      await client.subscribeResource({ uri }, { signal })
      sessions = this.subscribers.get(uri) ?? new Map<string, (params: { uri: string }) => Promise<void>>()
      this.subscribers.set(uri, sessions)
    }
    sessions.set(sessionKey, onUpdated)
    return {}
  }

  /** Ends session `sessionKey`'s subscription to `uri`; the upstream's ends with the last one. */
  async unsubscribe (uri: string, sessionKey: string, signal: AbortSignal): Promise<Record<string, unknown>> {
    const sessions = this.subscribers.get(uri)
    if (sessions === undefined || !sessions.delete(sessionKey)) return {}
    if (sessions.size > 0) return {}
    this.subscribers.delete(uri)
    await this.client?.unsubscribeResource({ uri }, { signal })
    return {}
  }

  /** Ends every subscription of a session that closed. */
  unsubscribeAll (sessionKey: string): void {
    for (const uri of [...this.subscribers.keys()]) {
      void this.unsubscribe(uri, sessionKey, AbortSignal.timeout(5_000)).catch(() => {})
    }
  }

  /** After a reconnection: subscribes the new session again and tells every subscriber to read again (updates may have been missed). */
  private async resubscribe (client: Client): Promise<void> {
    for (const [uri, sessions] of this.subscribers) {
      await client.subscribeResource({ uri }).catch((err: unknown) => { this.log.warn('re-subscribing %s failed: %s', uri, errorMessage(err)) })
      for (const send of sessions.values()) await send({ uri }).catch(() => {})
    }
  }

  /** The call in flight that server-to-client traffic goes back to: the oldest one able to take it. */
  private route (need?: keyof ClientCapabilities): CallContext | undefined {
    for (const ctx of this.inflight) if (need === undefined || ctx.capabilities?.[need] !== undefined) return ctx
    return undefined
  }

  private install (client: Client): void {
    const forward = async (need: keyof ClientCapabilities, request: ClientRequest | ServerRequest, signal: AbortSignal): Promise<unknown> => {
      const ctx = this.route(need)
      if (ctx === undefined) {
        throw new McpError(ErrorCode.InvalidRequest, this.inflight.size === 0
          ? `${this.name} sent a ${need} request outside of any tool call; the mesh routes ${need} only back to the client of a call in flight`
          : `${this.name} asked for ${need}, but the client of the call in flight did not declare the ${need} capability (use a client that supports ${need})`)
      }
      return await ctx.sendRequest(request as ServerRequest, signal)
    }
    client.setRequestHandler(CreateMessageRequestSchema, async (req, extra) =>
      CreateMessageResultSchema.parse(await forward('sampling', req, extra.signal)))
    client.setRequestHandler(ElicitRequestSchema, async (req, extra) =>
      ElicitResultSchema.parse(await forward('elicitation', req, extra.signal)))
    client.setRequestHandler(ListRootsRequestSchema, async (req, extra) => {
      if (this.route('roots') === undefined) return { roots: [] }
      return ListRootsResultSchema.parse(await forward('roots', req, extra.signal))
    })
    client.fallbackNotificationHandler = async (n) => {
      if (n.method === 'notifications/tools/list_changed' || n.method === 'notifications/resources/list_changed' ||
        n.method === 'notifications/prompts/list_changed') {
        await this.refresh().catch((err: unknown) => { this.log.warn('refresh of %s failed: %s', this.name, errorMessage(err)) })
        this.emitChanged()
        return
      }
      if (n.method === 'notifications/resources/updated') {
        const params = n.params as { uri: string }
        for (const send of this.subscribers.get(params.uri)?.values() ?? []) await send(params).catch(() => {})
        return
      }
      if (n.method === 'notifications/message') {
        const level = (n.params as { level?: LoggingLevel } | undefined)?.level ?? 'info'
        const seen = new Set<string>()
        for (const ctx of this.inflight) {
          if (seen.has(ctx.sessionKey) || !levelPasses(level, ctx.logLevel())) continue
          seen.add(ctx.sessionKey)
          await ctx.sendNotification(n as ServerNotification).catch(() => {})
        }
      }
    }
  }
}
