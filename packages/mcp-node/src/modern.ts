import { randomUUID } from 'node:crypto'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js'
import {
  CreateMessageRequestSchema, ElicitRequestSchema, ListRootsRequestSchema, McpError, ResultSchema,
  type ClientCapabilities, type Result,
} from '@modelcontextprotocol/sdk/types.js'
import { ProtocolError, Server, createMcpHandler, inputRequired, type McpHttpHandler, type McpRequestContext, type ServerContext } from '@modelcontextprotocol/server'
import type { ModernLeg } from '@p2p-mcp/transport/node'
import { identityOfAuth, type Identity, type Principal } from './auth/principal.js'
import type { Logger } from './logger.js'
import type { FrontSession, SessionView } from './session.js'

/** How long an interactive (`input_required`) call waits for the client's next round. */
export const DEFAULT_INPUT_WAIT_MS = 10 * 60_000
/** Interactive calls waiting for a client round at once; more are refused. */
export const DEFAULT_MAX_WAITING_CALLS = 1024
/** Interactive calls of one principal waiting for a client round at once (each holds a session here for up to `DEFAULT_INPUT_WAIT_MS`). */
export const DEFAULT_MAX_WAITING_CALLS_PER_PRINCIPAL = 64

/** What the 2026-07-28 leg needs from the node. */
export interface ModernHost {
  openSession: (init: { principal: Principal, scopes: readonly string[], view: SessionView }) => FrontSession
  log: Logger
}

/** The methods a 2026-07-28 client may call on the mesh; each is relayed to the mesh as is. */
const RELAYED = ['tools/list', 'tools/call', 'resources/list', 'resources/templates/list', 'resources/read', 'prompts/list', 'prompts/get', 'completion/complete'] as const
/** Server-to-client requests of a 2025-era upstream that become `input_required` rounds. */
const INPUT_METHODS = [
  { schema: ElicitRequestSchema, method: 'elicitation/create', capability: 'elicitation' },
  { schema: CreateMessageRequestSchema, method: 'sampling/createMessage', capability: 'sampling' },
  { schema: ListRootsRequestSchema, method: 'roots/list', capability: 'roots' },
] as const

interface InputRequest { method: string, params?: Record<string, unknown> }

/**
 * One relayed call of a 2026-07-28 client: a 2025 session to the mesh (a `FrontSession` in this
 * process), the call in flight on it, and the server-to-client requests it is waiting on. When the
 * mesh asks the client something mid-call (elicitation, sampling, roots), the call is parked here
 * and the client gets `input_required` with a `requestState` naming it; its retry answers them.
 */
class RelayedCall {
  readonly id = randomUUID()
  readonly client: Client
  readonly principal: string
  private readonly session: FrontSession
  private readonly asked = new Map<string, { request: InputRequest, resolve: (r: Result) => void, reject: (e: Error) => void, sent: boolean }>()
  private wake: (() => void) | undefined
  private seq = 0
  private result: Promise<{ done: Result } | { failed: unknown }> | undefined
  /** Where progress of the current round goes. */
  progress: ((p: { progress: number, total?: number, message?: string }) => void) | undefined
  timer: NodeJS.Timeout | undefined

  constructor (session: FrontSession, capabilities: ClientCapabilities, principal: string) {
    this.session = session
    this.principal = principal
    this.client = new Client({ name: 'p2p-mcp-2026-relay', version: '0.1.0' }, { capabilities })
    for (const { schema, method, capability } of INPUT_METHODS) {
      if (capabilities[capability] === undefined) continue
      this.client.setRequestHandler(schema, async (req) => await this.ask({ method, params: req.params }))
    }
  }

  async open (): Promise<void> {
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair()
    await this.session.server.connect(serverSide)
    await this.client.connect(clientSide)
  }

  start (method: string, params: Record<string, unknown>): void {
    this.result = this.client.request({ method, params }, ResultSchema, {
      // The mesh applies its own per-tool deadlines (extended by progress) behind this session.
      timeout: 2 ** 31 - 1,
      onprogress: (p) => { this.progress?.(p) },
    }).then((done) => ({ done }), (failed: unknown) => ({ failed }))
  }

  private async ask (request: InputRequest): Promise<Result> {
    return await new Promise<Result>((resolve, reject) => {
      this.asked.set(`${request.method.replace('/', '_')}_${++this.seq}`, { request, resolve, reject, sent: false })
      this.wake?.()
    })
  }

  /** Answers the requests the client was shown; a missing answer is asked again. */
  answer (responses: Record<string, unknown>): void {
    for (const [key, a] of this.asked) {
      if (!a.sent || !(key in responses)) continue
      this.asked.delete(key)
      a.resolve(responses[key] as Result)
    }
    for (const a of this.asked.values()) a.sent = false
  }

  /** The call's result, or the questions to put to the client first. */
  async next (): Promise<{ done: Result } | { failed: unknown } | { ask: Record<string, InputRequest> }> {
    for (;;) {
      const open = [...this.asked].filter(([, a]) => !a.sent)
      if (open.length > 0) {
        // Let requests made in the same turn travel in one round.
        await new Promise((resolve) => setImmediate(resolve))
        const batch = [...this.asked].filter(([, a]) => !a.sent)
        for (const [, a] of batch) a.sent = true
        return { ask: Object.fromEntries(batch.map(([k, a]) => [k, a.request])) }
      }
      const woken = new Promise<'wake'>((resolve) => { this.wake = () => { resolve('wake') } })
      const r = await Promise.race([this.result!, woken])
      this.wake = undefined
      if (r !== 'wake') return r
    }
  }

  async close (): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer)
    for (const a of this.asked.values()) a.reject(new Error('the relayed call ended'))
    this.asked.clear()
    await this.client.close().catch(() => {})
    await this.session.close()
  }
}

/** `MCP error -32602: x` (how SDK 1.x words its errors) → `x`, so a message does not gain a prefix per hop. */
function plainMessage (err: McpError): string {
  return err.message.replace(/^MCP error -?\d+: /, '')
}

function toProtocolError (err: unknown): Error {
  if (err instanceof McpError) return new ProtocolError(err.code, plainMessage(err), err.data)
  return err instanceof Error ? err : new Error(String(err))
}

/** The envelope minus what the SDK lifted out: what the mesh forwards as `params`. */
function forwardedParams (params: unknown): Record<string, unknown> {
  const p = { ...(params as Record<string, unknown> | undefined) }
  delete p.inputResponses
  delete p.requestState
  const meta = p._meta as Record<string, unknown> | undefined
  if (meta !== undefined) {
    const kept = Object.fromEntries(Object.entries(meta).filter(([k]) => !k.startsWith('io.modelcontextprotocol/')))
    if (Object.keys(kept).length > 0) p._meta = kept
    else delete p._meta
  }
  return p
}

/**
 * The 2026-07-28 leg of the HTTP front door: one SDK v2 `createMcpHandler` per view (the whole
 * mesh, or one server), strict (2025 traffic stays on sessions). Each request is relayed to the
 * mesh through a 2025 session in this process; `input_required` rounds park the call here (see
 * `RelayedCall`). The SDK answers `server/discover`, validates `Mcp-Method`/`Mcp-Name` and the
 * envelope, and marks list results `ttlMs: 0, cacheScope: 'private'` (the mesh does not promise
 * what its sources may change).
 */
export function createModernFrontDoor (host: ModernHost, options: { inputWaitMs?: number, maxWaitingCalls?: number, maxWaitingCallsPerPrincipal?: number } = {}): {
  leg: (view: SessionView) => ModernLeg
  close: () => Promise<void>
} {
  const inputWaitMs = options.inputWaitMs ?? DEFAULT_INPUT_WAIT_MS
  const maxWaiting = options.maxWaitingCalls ?? DEFAULT_MAX_WAITING_CALLS
  const maxWaitingPerPrincipal = options.maxWaitingCallsPerPrincipal ?? DEFAULT_MAX_WAITING_CALLS_PER_PRINCIPAL
  const waiting = new Map<string, RelayedCall>()
  /** Parked calls per principal: one client must not hold every parking place (issue 17). */
  const parkedBy = new Map<string, number>()
  const handlers = new Map<string, McpHttpHandler>()

  const unpark = (call: RelayedCall): void => {
    if (!waiting.delete(call.id)) return
    const n = (parkedBy.get(call.principal) ?? 1) - 1
    if (n === 0) parkedBy.delete(call.principal)
    else parkedBy.set(call.principal, n)
  }
  const park = (call: RelayedCall): void => {
    if (call.timer !== undefined) clearTimeout(call.timer)
    call.timer = setTimeout(() => { unpark(call); void call.close() }, inputWaitMs)
    call.timer.unref()
    if (waiting.has(call.id)) return
    waiting.set(call.id, call)
    parkedBy.set(call.principal, (parkedBy.get(call.principal) ?? 0) + 1)
  }

  const round = async (call: RelayedCall, ctx: ServerContext): Promise<Result> => {
    const token = (ctx.mcpReq._meta as { progressToken?: string | number } | undefined)?.progressToken
    call.progress = token === undefined
      ? undefined
      : (p) => { void ctx.mcpReq.notify({ method: 'notifications/progress', params: { progressToken: token, ...p } }).catch(() => {}) }
    const next = await call.next()
    if ('ask' in next) {
      park(call)
      return inputRequired({ inputRequests: next.ask as never, requestState: call.id })
    }
    unpark(call)
    await call.close()
    if ('failed' in next) throw toProtocolError(next.failed)
    return next.done
  }

  const relay = (view: SessionView, identity: Identity) => async (method: string, request: { params?: unknown }, ctx: ServerContext): Promise<Result> => {
    const principal = identity.principal
    const state = ctx.mcpReq.requestState<unknown>()
    if (typeof state === 'string') {
      const call = waiting.get(state)
      if (call === undefined) throw new ProtocolError(-32602, 'Invalid or expired requestState: this interactive call is not waiting on this peer (it ended, timed out, or was started on another peer)')
      unpark(call)
      call.answer((ctx.mcpReq.inputResponses ?? {}))
      return await round(call, ctx)
    }
    const envelope = ctx.mcpReq.envelope as Record<string, unknown> | undefined
    const caps = (envelope?.['io.modelcontextprotocol/clientCapabilities'] ?? {}) as ClientCapabilities
    if (waiting.size >= maxWaiting) throw new ProtocolError(-32603, `Too many interactive calls waiting for input (${maxWaiting}); try again later`)
    if ((parkedBy.get(principal) ?? 0) >= maxWaitingPerPrincipal) {
      throw new ProtocolError(-32603, `Too many interactive calls of principal ${JSON.stringify(principal)} waiting for input: maxWaitingCallsPerPrincipal ${maxWaitingPerPrincipal} reached; answer or abandon those first (each waits ${inputWaitMs / 1000} s at most)`)
    }
    const call = new RelayedCall(host.openSession({ principal, scopes: identity.scopes, view }), caps, principal)
    try {
      await call.open()
    } catch (err) {
      await call.close()
      throw toProtocolError(err)
    }
    call.start(method, forwardedParams(request.params))
    return await round(call, ctx)
  }

  const factory = (view: SessionView) => (ctx: McpRequestContext): Server => {
    const server = new Server({ name: 'p2p-mcp', version: '0.1.0' }, {
      capabilities: { tools: { listChanged: true }, resources: { listChanged: true }, prompts: { listChanged: true }, completions: {} },
      instructions: 'A p2p-mcp mesh peer: the tools, resources and prompts of every MCP server of the mesh.',
    })
    const forward = relay(view, identityOfAuth(ctx.authInfo))
    for (const method of RELAYED) {
      server.setRequestHandler(method, (async (request: { params?: unknown }, c: ServerContext) => await forward(method, request, c)) as never)
    }
    return server
  }

  return {
    leg (view) {
      const key = view.kind === 'server' ? `server:${view.server}` : view.kind
      let handler = handlers.get(key)
      if (handler === undefined) {
        handler = createMcpHandler(factory(view), { legacy: 'reject', onerror: (err) => { host.log.debug('2026-07-28 request: %s', err.message) } })
        handlers.set(key, handler)
      }
      const h = handler
      return async (request, { authInfo, parsedBody }) => await h.fetch(request, { parsedBody, ...(authInfo === undefined ? {} : { authInfo: authInfo }) })
    },
    async close () {
      const calls = [...waiting.values()]
      waiting.clear()
      parkedBy.clear()
      await Promise.allSettled([...calls.map(async (c) => { await c.close() }), ...[...handlers.values()].map(async (h) => { await h.close() })])
      handlers.clear()
    },
  }
}
