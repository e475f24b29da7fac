// A replica for tests: a real SDK McpServer per session over the SDK's InMemoryTransport,
// with faults injected at the transport, as a network would inject them.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js'
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js'
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js'
import { CreateMessageResultSchema, ErrorCode, SubscribeRequestSchema, UnsubscribeRequestSchema } from '@modelcontextprotocol/sdk/types.js'
import { z } from 'zod'
import type { EndpointSpec } from '../src/index.js'

/** The client side of a session: drops, resets or blackholes traffic on demand. */
export class FaultyTransport implements Transport {
  onclose?: () => void
  onerror?: (error: Error) => void
  onmessage?: (message: JSONRPCMessage) => void
  private readonly inner: InMemoryTransport
  private readonly replica: Replica
  dead = false

  constructor (inner: InMemoryTransport, replica: Replica) {
    this.inner = inner
    this.replica = replica
    inner.onmessage = (m) => {
      if (this.dead || this.replica.blackhole) return
      this.onmessage?.(m)
    }
    inner.onclose = () => { this.reset() }
  }

  async start (): Promise<void> { await this.inner.start() }

  async send (message: JSONRPCMessage): Promise<void> {
    if (this.dead) throw new Error('connection reset')
    if (this.replica.blackhole) return
    await this.inner.send(message)
  }

  async close (): Promise<void> {
    if (this.dead) return
    this.dead = true
    await this.inner.close()
    this.onclose?.()
  }

  /** The connection is gone without a close handshake: the server never hears of it. */
  reset (): void {
    if (this.dead) return
    this.dead = true
    this.onclose?.()
  }
}

export interface ReplicaSession {
  transport: FaultyTransport
  server: McpServer
  /** Resource URIs this session subscribed to. */
  subscribed: Set<string>
}

export interface ReplicaInit {
  id: string
  /** Latency of every tool call, ms. */
  delayMs?: number
  weight?: number
  labels?: Record<string, string>
}

/** One replica of the "test" server: tools echo, add (idempotent), charge (not idempotent), work (progress), ask (sampling), fail. */
export class Replica {
  readonly id: string
  delayMs: number
  /** Drop every message both ways (a hung peer). */
  blackhole = false
  /** Refuse new sessions. */
  down = false
  /** tools/call answers with a JSON-RPC internal error (a broken server). */
  broken = false
  /** Tool executions, by tool name. */
  readonly executions = new Map<string, number>()
  /** Side effects of 'charge', by request key. */
  readonly charges: string[] = []
  /** Tool calls the server saw cancelled. */
  cancelled = 0
  readonly sessions = new Set<ReplicaSession>()
  clientCapabilities: unknown[] = []
  readonly spec: EndpointSpec

  constructor (init: ReplicaInit) {
    this.id = init.id
    this.delayMs = init.delayMs ?? 0
    this.spec = {
      id: init.id,
      weight: init.weight,
      labels: init.labels,
      connect: () => this.connect(),
    }
  }

  /** Sessions (alive) subscribed to `uri`. */
  subscribers (uri: string): number {
    let n = 0
    for (const s of this.sessions) if (!s.transport.dead && s.subscribed.has(uri)) n++
    return n
  }

  /** Sends `notifications/resources/updated` for `uri` on every live session subscribed to it; returns how many. */
  async update (uri: string): Promise<number> {
    let n = 0
    for (const s of this.sessions) {
      if (s.transport.dead || !s.subscribed.has(uri)) continue
      await s.server.server.sendResourceUpdated({ uri })
      n++
    }
    return n
  }

  calls (tool?: string): number {
    if (tool !== undefined) return this.executions.get(tool) ?? 0
    let n = 0
    for (const v of this.executions.values()) n += v
    return n
  }

  /** Aborts every session mid-flight, no close handshake, and refuses new ones. */
  kill (): void {
    this.down = true
    for (const s of this.sessions) s.transport.reset()
  }

  async close (): Promise<void> {
    for (const s of this.sessions) await s.server.close()
    this.sessions.clear()
  }

  private async connect (): Promise<Transport> {
    if (this.down) throw new Error(`connect ECONNREFUSED (${this.id} is down)`)
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair()
    const server = this.build()
    const transport = new FaultyTransport(clientSide, this)
    const session: ReplicaSession = { transport, server, subscribed: new Set() }
    server.server.setRequestHandler(SubscribeRequestSchema, (request) => { session.subscribed.add(request.params.uri); return {} })
    server.server.setRequestHandler(UnsubscribeRequestSchema, (request) => { session.subscribed.delete(request.params.uri); return {} })
    this.sessions.add(session)
    // The server side drops what the client sends while the replica is blackholed or dead.
    const deliver = serverSide.send.bind(serverSide)
    serverSide.send = async (m, o) => { if (!transport.dead && !this.blackhole) await deliver(m, o) }
    await server.connect(serverSide)
    // A broken replica answers tools/call with a JSON-RPC internal error (McpServer would turn
    // a thrown error into an isError result, which is the tool's failure, not the server's).
    const handle = serverSide.onmessage
    serverSide.onmessage = (m, extra) => {
      if (this.broken && 'method' in m && m.method === 'tools/call' && 'id' in m) {
        const name = String((m.params as { name?: unknown } | undefined)?.name)
        this.count(name)
        void serverSide.send({ jsonrpc: '2.0', id: m.id, error: { code: ErrorCode.InternalError, message: `${this.id} is broken` } })
        return
      }
      handle?.(m, extra)
    }
    server.server.oninitialized = () => { this.clientCapabilities.push(server.server.getClientCapabilities()) }
    return transport
  }

  private count (tool: string): void {
    this.executions.set(tool, (this.executions.get(tool) ?? 0) + 1)
  }

  private async pause (ms: number, signal: AbortSignal): Promise<void> {
    if (ms <= 0) return
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve() }, ms)
      const onAbort = (): void => { clearTimeout(t); this.cancelled++; reject(new Error('cancelled')) }
      signal.addEventListener('abort', onAbort, { once: true })
    })
  }

  private build (): McpServer {
    const server = new McpServer({ name: 'test', version: '1.0.0' }, { capabilities: { logging: {}, resources: { subscribe: true }, prompts: { listChanged: true } } })
    server.registerResource('doc', 'doc://readme', {}, (uri) => ({ contents: [{ uri: uri.href, text: `readme on ${this.id}` }] }))
    server.registerTool('echo', { inputSchema: { text: z.string() }, annotations: { readOnlyHint: true } }, async ({ text }, extra) => {
      this.count('echo')
      await this.pause(this.delayMs, extra.signal)
      return { content: [{ type: 'text', text: `${this.id}:${text}` }] }
    })
    server.registerTool('add', { inputSchema: { a: z.number(), b: z.number() }, annotations: { idempotentHint: true } }, async ({ a, b }, extra) => {
      this.count('add')
      await this.pause(this.delayMs, extra.signal)
      return { content: [{ type: 'text', text: String(a + b) }] }
    })
    server.registerTool('charge', { inputSchema: { key: z.string() }, annotations: { destructiveHint: true } }, async ({ key }, extra) => {
      this.count('charge')
      this.charges.push(key)
      await this.pause(this.delayMs, extra.signal)
      return { content: [{ type: 'text', text: `charged ${key} on ${this.id}` }] }
    })
    server.registerTool('work', { inputSchema: { steps: z.number(), stepMs: z.number() }, annotations: { readOnlyHint: true } }, async ({ steps, stepMs }, extra) => {
      this.count('work')
      for (let i = 0; i < steps; i++) {
        await this.pause(stepMs, extra.signal)
        const token = extra._meta?.progressToken
        if (token !== undefined) await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: i + 1, total: steps } })
      }
      return { content: [{ type: 'text', text: `worked ${steps}` }] }
    })
    server.registerTool('ask', { inputSchema: { question: z.string() } }, async ({ question }, extra) => {
      this.count('ask')
      await server.sendLoggingMessage({ level: 'info', data: `${this.id} asks ${question}` }, extra.sessionId)
      const answer = await extra.sendRequest({
        method: 'sampling/createMessage',
        params: { messages: [{ role: 'user', content: { type: 'text', text: question } }], maxTokens: 10 },
      }, CreateMessageResultSchema)
      const content = answer.content
      return { content: [{ type: 'text', text: 'text' in content ? content.text : '' }] }
    })
    server.registerTool('fail', { inputSchema: {} }, () => {
      this.count('fail')
      return { content: [{ type: 'text', text: 'tool says no' }], isError: true }
    })
    return server
  }
}

/** Resolves with the detail of the next `type` event matching `match`, or rejects after `ms`. */
export async function nextEvent<T> (target: EventTarget, type: string, match: (detail: T) => boolean = () => true, ms = 5_000): Promise<T> {
  return await new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => { target.removeEventListener(type, onEvent); reject(new Error(`no ${type} event within ${ms} ms`)) }, ms)
    const onEvent = (e: Event): void => {
      const detail = (e as CustomEvent<T>).detail
      if (!match(detail)) return
      clearTimeout(timer)
      target.removeEventListener(type, onEvent)
      resolve(detail)
    }
    target.addEventListener(type, onEvent)
  })
}

/** Runs `n` calls with at most `concurrency` at once. */
export async function load (n: number, concurrency: number, call: (i: number) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < n) await call(next++)
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
}
