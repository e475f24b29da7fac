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
import type { AccessControl, AccessRequest, Served } from './access-control.js'
import type { AuditedMethod } from './audit/audit-log.js'
import { IDENTITY_META, IdentityAssertionError, type IdentityAssertion } from './auth/hop-identity.js'
import type { Identity, Principal } from './auth/principal.js'
import type { MeshCatalog } from './catalog.js'
import { MESH_SERVER, POLICY_DENIED_CODE, REQUEST_ID_META, ROUTE_CLIENT_PREFIX } from './constants.js'
import { errorMessage, PolicyDeniedError } from './errors.js'
import type { Logger } from './logger.js'
import type { Door, MeshTools } from './mesh-tools.js'
import { meshName } from './naming.js'
import type { PolicyTargetKind } from './policy.js'
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
  /** Policy, limits and audit of every tools/call, resources/read and prompts/get. */
  readonly access: AccessControl
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
  /** This peer's signed assertion of a caller's identity, for the peer a call is routed to (decision 0176). */
  assertIdentity: (identity: Identity) => Promise<IdentityAssertion>
  /** The identity another peer asserted, verified against the connection's peer; throws `IdentityAssertionError`. */
  verifyIdentity: (assertion: unknown, remotePeer: string) => Promise<Identity>
}

/** Which part of the mesh a session sees. */
export type SessionView =
  | { kind: 'mesh' }
  | { kind: 'server', server: string }
  /** A libp2p or in-memory session: a peer's route session (by its clientInfo) or else the whole mesh. */
  | { kind: 'auto' }

export interface FrontSessionInit {
  /** Who the door authenticated (`auth/principal.ts`). */
  principal: Principal
  /** The OAuth scopes of the caller's access token (none for other kinds). */
  scopes?: readonly string[]
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

  /** The session's own identity: who its door authenticated. */
  get identity (): Identity {
    return { principal: this.init.principal, scopes: this.init.scopes ?? [] }
  }

  /**
   * Who makes a request: on a libp2p session, the caller an entry peer asserted in `_meta`
   * (verified against the connection's peer; a bad assertion refuses the request), else the
   * session's own identity.
   */
  async callerOf (meta: Record<string, unknown> | undefined): Promise<Identity> {
    const asserted = meta?.[IDENTITY_META]
    if (this.init.door !== 'libp2p' || asserted === undefined || !this.init.principal.startsWith('peer:')) return this.identity
    try {
      return await this.core.verifyIdentity(asserted, this.init.principal.slice('peer:'.length))
    } catch (err) {
      if (!(err instanceof IdentityAssertionError)) throw err
      this.core.log.warn({ principal: this.init.principal }, 'identity assertion refused: %s', err.message)
      throw new McpError(POLICY_DENIED_CODE, err.message, { name: err.name, code: err.code })
    }
  }

  /**
   * The `_meta` of a request routed to a replica: the client's, without an identity it put there,
   * plus this peer's signed assertion of the caller (decision 0176).
   */
  private async routedMeta (meta: Record<string, unknown> | undefined, caller: Identity): Promise<Record<string, unknown>> {
    const out = withoutIdentity(meta)
    if (this.init.door !== 'memory') out[IDENTITY_META] = await this.core.assertIdentity(caller)
    return out
  }

  /** Whether this session's principal may see (and so use) `target` in a list. */
  private visible (target: string, kind: PolicyTargetKind): boolean {
    return this.core.access.visible({ principal: this.init.principal, scopes: this.init.scopes, enforce: this.init.enforcePolicy }, target, kind)
  }

  /** The access request of a tools/call, resources/read or prompts/get of this session. */
  private request (method: AuditedMethod, target: string, kind: PolicyTargetKind, server: string, extra: { requestId?: string, signal?: AbortSignal, caller?: Identity } = {}): AccessRequest {
    // Across a hop, the caller the entry peer asserted (decision 0176); else the session's own.
    const { caller = this.identity, ...rest } = extra
    return {
      method, principal: caller.principal, target, kind, server,
      role: this.resolved().kind === 'route' ? 'serving' : 'entry',
      enforce: this.init.enforcePolicy,
      scopes: caller.scopes,
      ...(caller.assertedBy === undefined ? {} : { assertedBy: caller.assertedBy }),
      ...rest,
    }
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
    if (r.kind === 'mesh') return [...this.core.builtins.list(this.init.door), ...this.core.catalog.tools.map((t) => t.tool)].filter((t) => this.visible(t.name, 'tool'))
    const tools = r.kind === 'route' ? this.core.hosted(r.server)?.tools ?? [] : this.core.catalog.groups.get(r.server)?.tools ?? []
    return tools.filter((t) => this.visible(meshName(r.server, t.name), 'tool'))
  }

  private listResources (): Resource[] {
    const r = this.resolved()
    const all = r.kind === 'mesh'
      ? [...this.core.builtins.listResources(this.init.principal), ...this.core.catalog.resources.map((x) => x.resource)]
      : r.kind === 'route' ? this.core.hosted(r.server)?.resources ?? [] : this.core.catalog.groups.get(r.server)?.resources ?? []
    return all.filter((x) => this.visible(x.uri, 'resource'))
  }

  /** Templates are filtered by their `uriTemplate` text against the resource patterns (a prefix pattern such as `file:///docs/*` works). */
  private listTemplates (): ResourceTemplate[] {
    const r = this.resolved()
    const all = r.kind === 'mesh'
      ? [...this.core.builtins.listTemplates(this.init.principal), ...this.core.catalog.templates.map((t) => t.template)]
      : r.kind === 'route' ? this.core.hosted(r.server)?.resourceTemplates ?? [] : this.core.catalog.groups.get(r.server)?.resourceTemplates ?? []
    return all.filter((t) => this.visible(t.uriTemplate, 'resource'))
  }

  private listPrompts (): Prompt[] {
    const r = this.resolved()
    if (r.kind === 'mesh') return this.core.catalog.prompts.map((p) => p.prompt).filter((p) => this.visible(p.name, 'prompt'))
    const prompts = r.kind === 'route' ? this.core.hosted(r.server)?.prompts ?? [] : this.core.catalog.groups.get(r.server)?.prompts ?? []
    return prompts.filter((p) => this.visible(meshName(r.server, p.name), 'prompt'))
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
      // Updates of a resource the principal may not read are not its business either.
      if (subscribe && !this.visible(uri, 'resource')) {
        const denied = new PolicyDeniedError(this.init.principal, uri, 'resources/subscribe needs the resource to be readable', 'resource')
        throw new McpError(POLICY_DENIED_CODE, denied.message, { name: denied.name, code: denied.code })
      }
      if (r.kind === 'route') {
        const upstream = this.upstream(r.server)
        if (subscribe) return await upstream.subscribe(uri, this.id, async (params) => { await this.server.sendResourceUpdated(params) }, signal)
        return await upstream.unsubscribe(uri, this.id, signal)
      }
      if (r.kind === 'mesh' && this.core.builtins.has(uri)) {
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
      const access = this.core.access
      const caller = await this.callerOf(req.params._meta)
      if (r.kind === 'route') {
        return await access.guard(this.request('resources/read', uri, 'resource', r.server, { signal: extra.signal, caller }),
          async () => await this.upstream(r.server).readResource({ ...req.params, _meta: withoutIdentity(req.params._meta) }, extra.signal))
      }
      if (r.kind === 'mesh' && this.core.builtins.has(uri)) {
        return await access.guard(this.request('resources/read', uri, 'resource', MESH_SERVER, { signal: extra.signal, caller }), async (served) => {
          served.peer = this.core.peerId
          return await this.core.builtins.read(uri, { principal: caller.principal })
        })
      }
      const server = r.kind === 'server' ? r.server : this.core.catalog.serverOfUri(uri)
      if (server === undefined) throw new McpError(ErrorCode.InvalidParams, `no server of the mesh has resource ${uri}`)
      return await access.guard(this.request('resources/read', uri, 'resource', server, { signal: extra.signal, caller }), async (served) => {
        const scope = this.scope(server)
        try {
          return await scope.readResource({ ...req.params, _meta: await this.routedMeta(req.params._meta, caller) }, { signal: extra.signal, onAttempt: (id) => { served.peer = id } })
        } catch (err) { throw mcpErrorOf(err) }
      })
    })
    s.setRequestHandler(GetPromptRequestSchema, async (req, extra) => {
      const r = this.resolved()
      const access = this.core.access
      const caller = await this.callerOf(req.params._meta)
      if (r.kind === 'route') {
        return await access.guard(this.request('prompts/get', meshName(r.server, req.params.name), 'prompt', r.server, { signal: extra.signal, caller }),
          async () => await this.upstream(r.server).getPrompt({ ...req.params, _meta: withoutIdentity(req.params._meta) }, extra.signal))
      }
      let server: string
      let name = req.params.name
      let qualified: string
      if (r.kind === 'server') {
        server = r.server
        qualified = meshName(server, name)
      } else {
        const p = this.core.catalog.prompt(name)
        if (p === undefined) throw new McpError(ErrorCode.InvalidParams, `unknown prompt ${JSON.stringify(name)}; prompts/list names them`)
        server = p.server
        name = p.original
        qualified = p.name
      }
      return await access.guard(this.request('prompts/get', qualified, 'prompt', server, { signal: extra.signal, caller }), async (served) => {
        const scope = this.scope(server)
        try {
          return await scope.getPrompt({ ...req.params, name, _meta: await this.routedMeta(req.params._meta, caller) }, { signal: extra.signal, onAttempt: (id) => { served.peer = id } })
        } catch (err) { throw mcpErrorOf(err) }
      })
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
    const caller = await this.callerOf(params._meta)
    const log = core.log.child?.({ requestId, principal: caller.principal, ...(caller.assertedBy === undefined ? {} : { assertedBy: caller.assertedBy }) }) ?? core.log
    let server: string
    let tool: string
    let qualified: string
    let safe: boolean
    const outcomeOf = (result: CallToolResult): 'ok' | 'tool_error' => result.isError === true ? 'tool_error' : 'ok'
    if (r.kind === 'mesh') {
      if (core.builtins.listedOn(this.init.door, params.name)) {
        return await core.access.guard(this.request('tools/call', params.name, 'tool', MESH_SERVER, { requestId, signal: extra.signal, caller }), async (served) => {
          served.peer = core.peerId
          return await core.builtins.call(params.name, params.arguments ?? {}, { principal: caller.principal, signal: extra.signal })
        }, outcomeOf)
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
    const call = { server, tool, qualified, safe, requestId, log, caller }
    return await core.access.guard(this.request('tools/call', qualified, 'tool', server, { requestId, signal: extra.signal, caller }),
      async (served) => await this.routeCall(r, call, params, extra, served), outcomeOf)
  }

  /** Routes an admitted tools/call to its server (a replica through the pool, or the upstream hosted here) and counts it. */
  private async routeCall (
    r: Resolved,
    call: { server: string, tool: string, qualified: string, safe: boolean, requestId: string, log: Logger, caller: Identity },
    params: { name: string, arguments?: Record<string, unknown>, _meta?: Record<string, unknown> },
    extra: Parameters<Parameters<Server['setRequestHandler']>[1]>[1],
    served: Served,
  ): Promise<CallToolResult> {
    const core = this.core
    const { server, tool, qualified, safe, requestId, log, caller } = call
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
        const upstreamParams = { name: tool, arguments: params.arguments ?? {}, _meta: { ...meshMeta(params._meta), [REQUEST_ID_META]: requestId } as Record<string, unknown> }
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
        const scope = this.scope(server)
        // The peer that serves the call learns who the caller is, signed by this peer (decision 0176).
        if (this.init.door !== 'memory') upstreamParams._meta[IDENTITY_META] = await core.assertIdentity(caller)
        return await scope.callTool(upstreamParams, {
          // Always listen: progress from the far side extends the per-tool timeout at every hop,
          // even when the downstream client did not ask for progress itself.
          signal: extra.signal, timeoutMs, ...(safe ? { idempotent: true } : {}), onProgress: onprogress ?? ignoreProgress,
          // A shared scope has no endpoint of its own: the replica is known per attempt (decision 0155).
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
      served.peer = peer
      if (counted) core.callFinished(qualified, peer, outcome, (performance.now() - started) / 1000)
    }
  }
}

/** A request's `_meta` without the identity assertion: it is for the peer, never for the upstream or the next hop. */
function withoutIdentity (meta: Record<string, unknown> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = { ...meta }
  delete out[IDENTITY_META]
  return out
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
    // The identity is asserted by each peer itself, never passed on from a request (a client could replay one).
    if (!k.startsWith('p2p-mcp/') || k === REQUEST_ID_META || k === IDENTITY_META || k.length > 64) continue
    if ((typeof v === 'string' && v.length <= 256) || (typeof v === 'number' && Number.isFinite(v))) { out[k] = v; if (++n >= 8) break }
  }
  return out
}
