import { randomUUID } from 'node:crypto'
import { Server } from '@modelcontextprotocol/sdk/server/index.js'
import {
  CallToolRequestSchema, CompleteRequestSchema, ErrorCode, GetPromptRequestSchema, ListPromptsRequestSchema,
  ListResourcesRequestSchema, ListResourceTemplatesRequestSchema, ListToolsRequestSchema, McpError, ReadResourceRequestSchema,
  SetLevelRequestSchema, SubscribeRequestSchema, UnsubscribeRequestSchema,
} from '@modelcontextprotocol/sdk/types.js'
import type {
  CallToolResult, ClientCapabilities, CompleteRequest, LoggingLevel, Prompt, RequestId, Resource, ResourceTemplate, ServerNotification,
  ServerRequest, Tool,
} from '@modelcontextprotocol/sdk/types.js'
import type { ClientPool, ClientPoolScope } from '@p2p-mcp/client-pool'
import { z } from 'zod'
import type { MeshCatalog } from './catalog.js'
import { POLICY_DENIED_CODE, REQUEST_ID_META, ROUTE_CLIENT_PREFIX } from './constants.js'
import { errorMessage, PolicyDeniedError } from './errors.js'
import type { Logger } from './logger.js'
import type { Door, MeshTools } from './mesh-tools.js'
import { meshName } from './naming.js'
import type { Policy } from './policy.js'
import { levelPasses } from './upstream.js'
import type { CallContext, LocalUpstream } from './upstream.js'
import { VERSION } from './version.js'
import { checkArguments, guardHandlers, mcpErrorOf } from './wire-errors.js'

/**
 * What a session needs from the peer: the router (`MeshRouter`) implements it. Defined here,
 * where it is used, so that sessions depend on this interface and not on the node.
 */
export interface SessionHost {
  readonly peerId: string
  readonly log: Logger
  readonly policy: Policy
  readonly catalog: MeshCatalog
  readonly builtins: MeshTools
  readonly pageSize: number
  /** True once the peer refuses new calls (it is stopping). */
  readonly draining: boolean
  opened: (session: FrontSession) => void
  closed: (session: FrontSession) => void
  /** An upstream this peer hosts (for a peer's route session). */
  hosted: (server: string) => LocalUpstream | undefined
  /** The pool of a server of the mesh. */
  pool: (server: string) => ClientPool | undefined
  /**
   * The route sessions of a server that every downstream session without server-to-client
   * capabilities or subscriptions shares (decision 0155); undefined when no peer serves it.
   */
  sharedScope: (server: string) => ClientPoolScope | undefined
  timeoutOf: (tool: string) => number
  callStarted: () => void
  callFinished: (tool: string, peer: string, outcome: string, seconds: number) => void
}

/** Which part of the mesh a session sees. */
export type SessionView =
  | { kind: 'mesh' }
  | { kind: 'server', server: string }
  /** A libp2p or in-memory session: a peer's route session (by its clientInfo) or else the whole mesh. */
  | { kind: 'auto' }

export interface FrontSessionInit {
  principal: string
  door: Door
  view: SessionView
  /** Policy is not checked again on this peer's own route sessions (the front door did). */
  enforcePolicy: boolean
}

type Resolved = { kind: 'mesh' } | { kind: 'server', server: string } | { kind: 'route', server: string }

const AnyResult = z.looseObject({})
const ignoreProgress = (): void => {}

interface Page<T> { items: T[], nextCursor?: string }

function paginate<T> (items: T[], cursor: string | undefined, pageSize: number): Page<T> {
  let offset = 0
  if (cursor !== undefined) {
    const n = /^o(\d{1,9})$/.exec(cursor)
    if (n === null) throw new McpError(ErrorCode.InvalidParams, `invalid cursor ${JSON.stringify(cursor)}: pass the nextCursor of a previous page`)
    offset = Number(n[1])
  }
  const slice = items.slice(offset, offset + pageSize)
  return offset + pageSize < items.length ? { items: slice, nextCursor: `o${offset + pageSize}` } : { items: slice }
}

/**
 * One downstream MCP session: a low-level SDK `Server` whose handlers serve the whole mesh,
 * one server of it, or (for a peer's route session) a server hosted here.
 */
export class FrontSession {
  readonly server: Server
  readonly init: FrontSessionInit
  readonly id = randomUUID()
  logLevel: LoggingLevel | undefined
  private readonly core: SessionHost
  private readonly scopes = new Map<string, ClientPoolScope>()
  /** Downstream requests in flight per server, for relatedRequestId of server-to-client traffic. */
  private readonly active = new Map<string, RequestId[]>()
  private closed = false

  constructor (core: SessionHost, init: FrontSessionInit) {
    this.core = core
    this.init = init
    this.server = new Server({ name: 'p2p-mcp', version: VERSION, title: `p2p-mcp peer ${core.peerId}` }, {
      capabilities: { tools: { listChanged: true }, resources: { listChanged: true, subscribe: true }, prompts: { listChanged: true }, logging: {}, completions: {} },
      instructions: 'A p2p-mcp mesh peer: the tools, resources and prompts of every MCP server of the mesh.',
    })
    this.server.onclose = () => { void this.close() }
    core.opened(this)
    this.install()
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.core.closed(this)
    const scopes = [...this.scopes.values()]
    this.scopes.clear()
    await Promise.allSettled(scopes.map(async (s) => { await s.close() }))
    await this.server.close().catch(() => {})
  }

  /** Resolves the view of an `auto` session once the client has said who it is. */
  resolved (): Resolved {
    const v = this.init.view
    if (v.kind === 'mesh' || v.kind === 'server') return v
    const name = this.server.getClientVersion()?.name ?? ''
    return name.startsWith(ROUTE_CLIENT_PREFIX) ? { kind: 'route', server: name.slice(ROUTE_CLIENT_PREFIX.length) } : { kind: 'mesh' }
  }

  /** Sends a list_changed notification for what changed, when this session's view is affected. */
  notifyChanged (what: { tools: boolean, resources: boolean, prompts: boolean }, server?: string): void {
    if (this.closed) return
    const r = this.resolved()
    if (r.kind !== 'mesh' && server !== undefined && r.server !== server) return
    const send = (method: 'notifications/tools/list_changed' | 'notifications/resources/list_changed' | 'notifications/prompts/list_changed'): void => {
      this.server.notification({ method }).catch(() => {})
    }
    if (what.tools) send('notifications/tools/list_changed')
    if (what.resources) send('notifications/resources/list_changed')
    if (what.prompts) send('notifications/prompts/list_changed')
  }

  private checkPolicy (tool: string): void {
    if (!this.init.enforcePolicy) return
    const d = this.core.policy.check(this.init.principal, tool)
    if (!d.allowed) {
      this.core.log.warn({ principal: this.init.principal, tool }, 'call denied: %s', d.reason)
      // Crosses the wire as JSON-RPC error -32003, with the error's name in data.
      const denied = new PolicyDeniedError(this.init.principal, tool, d.reason)
      throw new McpError(POLICY_DENIED_CODE, denied.message, { name: denied.name, code: denied.code })
    }
  }

  private allowed (tool: string): boolean {
    return !this.init.enforcePolicy || this.core.policy.check(this.init.principal, tool).allowed
  }

  /**
   * True when this session must have route sessions of its own (decision 0155): its client
   * takes server-to-client requests (sampling, elicitation, roots), which must find their way
   * back to it alone.
   */
  private needsOwnRoutes (): boolean {
    const caps = this.server.getClientCapabilities()
    return caps?.sampling !== undefined || caps?.elicitation !== undefined || caps?.roots !== undefined
  }

  /** Passes a logging message of a shared route session on, if this session has a call in flight on `server`. */
  relayLog (server: string, n: ServerNotification): void {
    if (this.closed || !this.active.has(server) || n.method !== 'notifications/message') return
    if (!levelPasses(n.params.level, this.logLevel)) return
    const id = this.active.get(server)?.[0]
    this.server.notification(n, id === undefined ? undefined : { relatedRequestId: id }).catch(() => {})
  }

  /**
   * The route sessions this session calls `server` through: its own when it needs them
   * (`own`: it subscribes to a resource, whose updates must come back to it alone), else the
   * ones every such session of this peer shares.
   */
  private scope (server: string, own = false): ClientPoolScope {
    let scope = this.scopes.get(server)
    if (scope !== undefined) return scope
    if (!own && !this.needsOwnRoutes()) {
      const shared = this.core.sharedScope(server)
      if (shared === undefined) throw new McpError(ErrorCode.InvalidParams, `no peer of the mesh serves ${JSON.stringify(server)} right now`)
      return shared
    }
    const pool = this.core.pool(server)
    if (pool === undefined) throw new McpError(ErrorCode.InvalidParams, `no peer of the mesh serves ${JSON.stringify(server)} right now`)
    const down: ClientCapabilities = this.server.getClientCapabilities() ?? {}
    const caps: ClientCapabilities = {}
    if (down.sampling !== undefined) caps.sampling = down.sampling
    if (down.elicitation !== undefined) caps.elicitation = down.elicitation
    if (down.roots !== undefined) caps.roots = down.roots
    const related = (): { relatedRequestId?: RequestId } => {
      const ids = this.active.get(server)
      const id = ids?.[0]
      return id === undefined ? {} : { relatedRequestId: id }
    }
    scope = pool.scope({
      capabilities: caps,
      handlers: {
        ...(caps.sampling === undefined ? {} : { sampling: async (params, ctx) => await this.server.createMessage(params, { signal: ctx.signal, ...related() }) }),
        ...(caps.elicitation === undefined ? {} : { elicitation: async (params, ctx) => await this.server.elicitInput(params, { signal: ctx.signal, ...related() }) }),
        ...(caps.roots === undefined ? {} : { roots: async (ctx) => await this.server.listRoots(undefined, { signal: ctx.signal, ...related() }) }),
        notification: async (n) => {
          if (n.method === 'notifications/resources/updated') {
            await this.server.sendResourceUpdated(n.params).catch(() => {})
            return
          }
          if (n.method !== 'notifications/message') return
          if (!levelPasses(n.params.level, this.logLevel)) return
          await this.server.notification(n, related()).catch(() => {})
        },
      },
    })
    this.scopes.set(server, scope)
    return scope
  }

  private track<T> (server: string, id: RequestId, run: () => Promise<T>): Promise<T> {
    let ids = this.active.get(server)
    if (ids === undefined) this.active.set(server, ids = [])
    ids.push(id)
    return run().finally(() => {
      const i = ids.indexOf(id)
      if (i >= 0) ids.splice(i, 1)
      if (ids.length === 0) this.active.delete(server)
    })
  }

  // -------------------------------------------------------------------------------------
  // What each view lists

  private listTools (): Tool[] {
    const r = this.resolved()
    if (r.kind === 'mesh') return [...this.core.builtins.list(this.init.door), ...this.core.catalog.tools.map((t) => t.tool)].filter((t) => this.allowed(t.name))
    const tools = r.kind === 'route' ? this.core.hosted(r.server)?.tools ?? [] : this.core.catalog.groups.get(r.server)?.tools ?? []
    return tools.filter((t) => this.allowed(meshName(r.server, t.name)))
  }

  private listResources (): Resource[] {
    const r = this.resolved()
    if (r.kind === 'mesh') return [...this.core.builtins.listResources(), ...this.core.catalog.resources.map((x) => x.resource)]
    return r.kind === 'route' ? this.core.hosted(r.server)?.resources ?? [] : this.core.catalog.groups.get(r.server)?.resources ?? []
  }

  private listTemplates (): ResourceTemplate[] {
    const r = this.resolved()
    if (r.kind === 'mesh') return this.core.catalog.templates.map((t) => t.template)
    return r.kind === 'route' ? this.core.hosted(r.server)?.resourceTemplates ?? [] : this.core.catalog.groups.get(r.server)?.resourceTemplates ?? []
  }

  private listPrompts (): Prompt[] {
    const r = this.resolved()
    if (r.kind === 'mesh') return this.core.catalog.prompts.map((p) => p.prompt)
    return r.kind === 'route' ? this.core.hosted(r.server)?.prompts ?? [] : this.core.catalog.groups.get(r.server)?.prompts ?? []
  }

  private install (): void {
    const s = this.server
    const size = this.core.pageSize
    s.setRequestHandler(ListToolsRequestSchema, (req) => {
      const page = paginate(this.listTools(), req.params?.cursor, size)
      return { tools: page.items, ...(page.nextCursor === undefined ? {} : { nextCursor: page.nextCursor }) }
    })
    s.setRequestHandler(ListResourcesRequestSchema, (req) => {
      const page = paginate(this.listResources(), req.params?.cursor, size)
      return { resources: page.items, ...(page.nextCursor === undefined ? {} : { nextCursor: page.nextCursor }) }
    })
    s.setRequestHandler(ListResourceTemplatesRequestSchema, (req) => {
      const page = paginate(this.listTemplates(), req.params?.cursor, size)
      return { resourceTemplates: page.items, ...(page.nextCursor === undefined ? {} : { nextCursor: page.nextCursor }) }
    })
    s.setRequestHandler(ListPromptsRequestSchema, (req) => {
      const page = paginate(this.listPrompts(), req.params?.cursor, size)
      return { prompts: page.items, ...(page.nextCursor === undefined ? {} : { nextCursor: page.nextCursor }) }
    })
    s.setRequestHandler(SetLevelRequestSchema, (req) => {
      this.logLevel = req.params.level
      return {}
    })
    const subscription = async (uri: string, subscribe: boolean, signal: AbortSignal): Promise<Record<string, unknown>> => {
      const r = this.resolved()
      if (r.kind === 'route') {
        const upstream = this.upstream(r.server)
        if (subscribe) return await upstream.subscribe(uri, this.id, async (params) => { await this.server.sendResourceUpdated(params) }, signal)
        return await upstream.unsubscribe(uri, this.id, signal)
      }
      if (r.kind === 'mesh' && this.core.builtins.read(uri) !== undefined) {
        throw new McpError(ErrorCode.InvalidParams, `${uri} is computed on request and has no updates to subscribe to; read it again instead`)
      }
      const server = r.kind === 'server' ? r.server : this.core.catalog.serverOfUri(uri)
      if (server === undefined) throw new McpError(ErrorCode.InvalidParams, `no server of the mesh has resource ${uri}`)
      try {
        if (!subscribe) return await this.scopes.get(server)?.unsubscribeResource({ uri }, { signal }) ?? {}
        return await this.scope(server, true).subscribeResource({ uri }, { signal })
      } catch (err) { throw mcpErrorOf(err) }
    }
    s.setRequestHandler(SubscribeRequestSchema, async (req, extra) => await subscription(req.params.uri, true, extra.signal))
    s.setRequestHandler(UnsubscribeRequestSchema, async (req, extra) => await subscription(req.params.uri, false, extra.signal))
    s.setRequestHandler(CallToolRequestSchema, async (req, extra) => await this.callTool(req.params, extra))
    s.setRequestHandler(ReadResourceRequestSchema, async (req, extra) => {
      const uri = req.params.uri
      const r = this.resolved()
      if (r.kind === 'route') return await this.upstream(r.server).readResource(req.params, extra.signal)
      if (r.kind === 'mesh') {
        const builtin = this.core.builtins.read(uri)
        if (builtin !== undefined) return builtin
      }
      const server = r.kind === 'server' ? r.server : this.core.catalog.serverOfUri(uri)
      if (server === undefined) throw new McpError(ErrorCode.InvalidParams, `no server of the mesh has resource ${uri}`)
      try {
        return await this.scope(server).readResource(req.params, { signal: extra.signal })
      } catch (err) { throw mcpErrorOf(err) }
    })
    s.setRequestHandler(GetPromptRequestSchema, async (req, extra) => {
      const r = this.resolved()
      if (r.kind === 'route') return await this.upstream(r.server).getPrompt(req.params, extra.signal)
      let server: string
      let name = req.params.name
      if (r.kind === 'server') server = r.server
      else {
        const p = this.core.catalog.prompt(name)
        if (p === undefined) throw new McpError(ErrorCode.InvalidParams, `unknown prompt ${JSON.stringify(name)}; prompts/list names them`)
        server = p.server
        name = p.original
      }
      try {
        return await this.scope(server).getPrompt({ ...req.params, name }, { signal: extra.signal })
      } catch (err) { throw mcpErrorOf(err) }
    })
    s.setRequestHandler(CompleteRequestSchema, async (req, extra) => {
      const r = this.resolved()
      if (r.kind === 'route') return await this.upstream(r.server).complete(req.params, extra.signal)
      const ref = req.params.ref
      let params: CompleteRequest['params'] = req.params
      let server: string | undefined
      if (r.kind === 'server') server = r.server
      else if (ref.type === 'ref/prompt') {
        const p = this.core.catalog.prompt(ref.name)
        server = p?.server
        if (p !== undefined) params = { ...req.params, ref: { ...ref, name: p.original } }
      } else server = this.core.catalog.serverOfUri(ref.uri)
      if (server === undefined) return { completion: { values: [] } }
      try {
        return await this.scope(server).complete(params, { signal: extra.signal })
      } catch (err) { throw mcpErrorOf(err) }
    })
    guardHandlers(s)
  }

  private upstream (server: string): LocalUpstream {
    const u = this.core.hosted(server)
    if (u === undefined) throw new McpError(ErrorCode.InvalidParams, `this peer does not host ${JSON.stringify(server)}`)
    return u
  }

  private async callTool (params: { name: string, arguments?: Record<string, unknown>, _meta?: Record<string, unknown> }, extra: Parameters<Parameters<Server['setRequestHandler']>[1]>[1]): Promise<CallToolResult> {
    const core = this.core
    // Bounded here, before anything encodes them (a deep or huge request fails alone, issue 17).
    checkArguments(params.arguments)
    const r = this.resolved()
    const metaId = params._meta?.[REQUEST_ID_META]
    const requestId = typeof metaId === 'string' && metaId.length <= 128 ? metaId : randomUUID()
    const log = core.log.child?.({ requestId, principal: this.init.principal }) ?? core.log
    let server: string
    let tool: string
    let qualified: string
    let safe: boolean
    if (r.kind === 'mesh') {
      if (core.builtins.listedOn(this.init.door, params.name)) {
        this.checkPolicy(params.name)
        return await core.builtins.call(params.name, params.arguments ?? {}, { principal: this.init.principal, signal: extra.signal })
      }
      const t = core.catalog.tool(params.name)
      if (t === undefined) throw new McpError(ErrorCode.InvalidParams, `unknown tool ${JSON.stringify(params.name)}; tools/list names the tools of the mesh`)
      server = t.server
      tool = t.original
      qualified = t.name
      safe = t.idempotent
    } else {
      server = r.server
      tool = params.name
      qualified = meshName(server, tool)
      safe = r.kind === 'server' && core.catalog.tool(qualified)?.idempotent === true
    }
    this.checkPolicy(qualified)
    if (core.draining) throw new McpError(ErrorCode.InternalError, 'this peer is shutting down; call another peer')
    const progressToken = extra._meta?.progressToken
    // Progress is forwarded in order, and all of it before the result (the client drops progress after the response).
    let forwarded: Promise<void> = Promise.resolve()
    const onprogress = progressToken === undefined
      ? undefined
      : (p: { progress: number, total?: number, message?: string }) => {
          forwarded = forwarded.then(async () => { await extra.sendNotification({ method: 'notifications/progress', params: { ...p, progressToken } }) }).catch(() => {})
        }
    const timeoutMs = core.timeoutOf(qualified)
    const started = performance.now()
    let peer = core.peerId
    let outcome = 'ok'
    // This peer's own replica is reached over an in-memory route session: the front session counts the call.
    const counted = this.init.door !== 'memory'
    if (counted) core.callStarted()
    log.debug({ tool: qualified, door: this.init.door }, 'tools/call')
    try {
      const result = await this.track(server, extra.requestId, async () => {
        const upstreamParams = { name: tool, arguments: params.arguments ?? {}, _meta: { ...meshMeta(params._meta), [REQUEST_ID_META]: requestId } }
        if (r.kind === 'route') {
          const ctx: CallContext = {
            sessionKey: this.id,
            capabilities: this.server.getClientCapabilities(),
            logLevel: () => this.logLevel,
            sendRequest: async (request: ServerRequest, signal: AbortSignal) => await extra.sendRequest(request, AnyResult, { signal }),
            sendNotification: async (n: ServerNotification) => { if (levelPasses((n.params as { level?: LoggingLevel }).level ?? 'info', this.logLevel)) await extra.sendNotification(n) },
          }
          return await this.upstream(server).callTool(upstreamParams, ctx, { signal: extra.signal, timeoutMs, onprogress: onprogress ?? (() => {}) })
        }
        return await this.scope(server).callTool(upstreamParams, {
          // Always listen: progress from the far side extends the per-tool timeout at every hop,
          // even when the downstream client did not ask for progress itself.
          signal: extra.signal, timeoutMs, ...(safe ? { idempotent: true } : {}), onProgress: onprogress ?? ignoreProgress,
          onAttempt: (id) => { peer = id },
        }) as CallToolResult
      })
      if (result.isError === true) outcome = 'tool_error'
      await forwarded
      return result
    } catch (err) {
      outcome = extra.signal.aborted ? 'cancelled' : 'error'
      log.warn({ tool: qualified, peer, err: errorMessage(err) }, 'tools/call failed')
      throw mcpErrorOf(err)
    } finally {
      if (counted) core.callFinished(qualified, peer, outcome, (performance.now() - started) / 1000)
    }
  }
}

/**
 * The `p2p-mcp/…` keys of a request's `_meta` (a scheduled task's idempotency key, epoch and
 * task id), passed on upstream so an upstream can deduplicate and fence. At most 8, short values.
 */
function meshMeta (meta: Record<string, unknown> | undefined): Record<string, string | number> {
  const out: Record<string, string | number> = {}
  if (meta === undefined) return out
  let n = 0
  for (const [k, v] of Object.entries(meta)) {
    if (!k.startsWith('p2p-mcp/') || k === REQUEST_ID_META || k.length > 64) continue
    if ((typeof v === 'string' && v.length <= 256) || (typeof v === 'number' && Number.isFinite(v))) { out[k] = v; if (++n >= 8) break }
  }
  return out
}
