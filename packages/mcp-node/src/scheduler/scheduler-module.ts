import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js'
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js'
import { Executor, InvalidWorkflowError, SchedulerState, parseWorkflow, WorkflowTag } from '@p2p-mcp/scheduler'
import type { Assignment, CallContext, SchedulerCommand, TaskSpec, WorkflowSpec, WorkflowState, WorkflowStatus } from '@p2p-mcp/scheduler'
import { z } from 'zod'
import { VERSION } from '../version.js'
import { ANONYMOUS_PRINCIPAL, parsePrincipal, type Principal } from '../auth/principal.js'
import type { ControlPlane } from '../control-plane/control-plane.js'
import type { Logger } from '../logger.js'
import { childOf } from '../logger.js'
import type { BuiltinResource, BuiltinTool } from '../mesh-tools.js'
import type { NodeComponents, NodeModule, NodeModuleFactory } from '../module.js'
import { errorMessage } from '../errors.js'

/** Clients kept open to run tasks as their principals (each an in-memory session of this peer). */
const MAX_PRINCIPAL_CLIENTS = 32
/** How often the module checks whether this peer holds a replica (and so may execute). */
const MEMBERSHIP_CHECK_MS = 500
/** Longest a `mesh__submit_workflow` with `wait` waits. */
const MAX_WAIT_MS = 10 * 60_000

const SubmitArgs = z.strictObject({
  workflow: z.unknown(),
  requestId: z.string().min(1).max(256).optional(),
  wait: z.boolean().optional(),
  waitTimeoutMs: z.number().int().min(1).max(MAX_WAIT_MS).optional(),
})
const StatusArgs = z.strictObject({ workflowId: z.string().min(1).max(128), tasks: z.boolean().optional() })
const ListArgs = z.strictObject({ status: z.enum(['running', 'completed', 'failed', 'cancelled', 'all']).optional(), tag: z.enum(Object.values(WorkflowTag) as [WorkflowTag, ...WorkflowTag[]]).optional() })
const CancelArgs = z.strictObject({ workflowId: z.string().min(1).max(128), reason: z.string().max(512).optional() })
const RebalanceArgs = z.strictObject({ strategy: z.enum(['load', 'latency']).optional() })

const TOOLS: Tool[] = [
  {
    name: 'mesh__submit_workflow',
    title: 'Submit a workflow',
    description: 'Submits a workflow (a DAG of tool calls: { id?, name?, tag?, priority?, tasks: [{ id, tool: "<server>__<tool>", arguments, priority?, requires?, dependsOn?, ... }] }) to the mesh\'s replicated scheduler; it runs even if this peer dies. Arguments may take a dependency\'s output with { "$ref": "<taskId>#<json-pointer>" }. A repeated requestId or workflow id returns the first workflow. wait: true answers when it finishes.',
    inputSchema: { type: 'object', properties: { workflow: { type: 'object' }, requestId: { type: 'string' }, wait: { type: 'boolean' }, waitTimeoutMs: { type: 'integer' } }, required: ['workflow'] },
    annotations: { readOnlyHint: false, idempotentHint: true, openWorldHint: true },
  },
  {
    name: 'mesh__workflow_status',
    title: 'Workflow status',
    description: 'Status of a workflow: state, completed/total, counts by task state, tasks needing resolution; with tasks: true each task\'s state, owner, epoch, attempts and result. The same answer from every peer holding a replica.',
    inputSchema: { type: 'object', properties: { workflowId: { type: 'string' }, tasks: { type: 'boolean' } }, required: ['workflowId'] },
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  },
  {
    name: 'mesh__list_workflows',
    title: 'List workflows',
    description: 'Workflows held by the scheduler, optionally filtered by status (running, completed, failed, cancelled, all) and tag.',
    inputSchema: { type: 'object', properties: { status: { type: 'string', enum: ['running', 'completed', 'failed', 'cancelled', 'all'] }, tag: { type: 'string', enum: Object.values(WorkflowTag) } } },
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  },
  {
    name: 'mesh__cancel_workflow',
    title: 'Cancel a workflow',
    description: 'Cancels a workflow: its open tasks end, calls in flight are aborted (notifications/cancelled).',
    inputSchema: { type: 'object', properties: { workflowId: { type: 'string' }, reason: { type: 'string' } }, required: ['workflowId'] },
    annotations: { readOnlyHint: false, idempotentHint: true, destructiveHint: true, openWorldHint: false },
  },
  {
    name: 'mesh__network_status',
    title: 'Scheduler network status',
    description: 'The scheduler\'s executors (peers) with capabilities, liveness and leased/running tasks, active task counts and health (the seed\'s get_p2p_network_status).',
    inputSchema: { type: 'object', properties: {} },
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  },
  {
    name: 'mesh__rebalance',
    title: 'Rebalance tasks',
    description: 'Moves queued, unstarted tasks between executors: strategy "load" evens leased tasks, "latency" prefers the executors this peer measures as fastest (the seed\'s rebalance_p2p_tasks).',
    inputSchema: { type: 'object', properties: { strategy: { type: 'string', enum: ['load', 'latency'] } } },
    annotations: { readOnlyHint: false, idempotentHint: false, openWorldHint: false },
  },
]

function result (value: unknown, isError = false): CallToolResult {
  return {
    content: [{ type: 'text', text: JSON.stringify(value, null, 2) }],
    ...(isError ? { isError: true } : { structuredContent: value as Record<string, unknown> }),
  }
}

function failure (name: string, message: string): CallToolResult { return result({ error: name, message }, true) }

function firstIssue (err: z.ZodError): string {
  const i = err.issues[0]!
  return `${i.path.join('.') || '(arguments)'}: ${i.message}`
}

/** The scheduler's module for tools that read a stopped peer's log (force-new-cluster): its entries must apply there too. */
export function offlineSchedulerModule (): SchedulerState {
  return new SchedulerState()
}

/** What `node.ts` wires: the replicated module (registered with the control plane), the node module, and the hook that hands over the control plane. */
export interface SchedulerFeature {
  readonly state: SchedulerState
  readonly factory: NodeModuleFactory
  readonly attach: (plane: ControlPlane) => void
}

/**
 * The scheduler in a peer: `SchedulerState` as the control plane's `scheduler` module, an
 * `Executor` while this peer holds a replica (calls run as the submitting principal through
 * an in-memory session of this peer, so policy is checked again and the mesh routes them),
 * and the workflow tools `mesh__submit_workflow`, `mesh__workflow_status`,
 * `mesh__list_workflows`, `mesh__cancel_workflow`, `mesh__network_status`, `mesh__rebalance`
 * with the resource `mesh://workflows`.
 */
export function schedulerFeature (): SchedulerFeature {
  const state = new SchedulerState()
  let plane: ControlPlane | undefined
  return {
    state,
    attach: (p) => { plane = p },
    factory: (components): NodeModule => {
      const s = new PeerScheduler(state, () => plane, components)
      return {
        name: 'scheduler',
        tools: s.tools(),
        resources: s.resources(),
        start: () => { s.start(); return Promise.resolve() },
        stop: async () => { await s.stop() },
        healthReasons: () => [],
      }
    },
  }
}

class PeerScheduler {
  private readonly state: SchedulerState
  private readonly getPlane: () => ControlPlane | undefined
  private readonly c: NodeComponents
  private readonly log: Logger
  private executor: Executor | undefined
  private timer: ReturnType<typeof setInterval> | undefined
  private unsubscribe: (() => void) | undefined
  private reconcileQueued = false
  private readonly clients = new Map<string, Promise<Client>>()
  private readonly waiters = new Map<string, Set<() => void>>()

  constructor (state: SchedulerState, getPlane: () => ControlPlane | undefined, c: NodeComponents) {
    this.state = state
    this.getPlane = getPlane
    this.c = c
    this.log = childOf(c.logger, { component: 'scheduler' })
  }

  private plane (): ControlPlane {
    const p = this.getPlane()
    if (p === undefined) throw Object.assign(new Error('the control plane is not running on this peer'), { name: 'ControlPlaneUnavailableError' })
    return p
  }

  start (): void {
    this.unsubscribe = this.state.subscribe((e) => {
      if (e.type === 'workflow') for (const w of this.waiters.get(e.workflowId) ?? []) w()
      if (this.executor !== undefined && !this.reconcileQueued) {
        this.reconcileQueued = true
        queueMicrotask(() => { this.reconcileQueued = false; this.executor?.reconcile() })
      }
    })
    this.timer = setInterval(() => { this.checkMembership() }, MEMBERSHIP_CHECK_MS)
    this.timer.unref()
  }

  /** Executes only while this peer holds a replica: an executor must see its assignments in its own log. */
  private checkMembership (): void {
    const member = this.getPlane()?.inConf() === true
    if (member && this.executor === undefined) {
      const plane = this.plane()
      this.executor = new Executor({
        id: this.c.peerId,
        capabilities: [...this.c.hosted()].map((u) => u.name).filter((n) => /^[A-Za-z0-9_.:/-]{1,64}$/.test(n)),
        view: this.state,
        propose: (cmd: SchedulerCommand) => plane.propose('scheduler', cmd).catch((err: unknown) => { this.log.debug('scheduler %s not committed: %s', cmd.type, errorMessage(err)) }),
        callTool: async (task, ctx) => await this.call(task, ctx),
        logger: this.log,
      })
      this.executor.start()
      this.log.info('scheduler executor started')
    } else if (!member && this.executor !== undefined) {
      this.executor.stop()
      this.executor = undefined
      this.log.info('scheduler executor stopped: this peer holds no replica of the control plane')
    }
  }

  async stop (): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.unsubscribe?.()
    this.executor?.stop()
    this.executor = undefined
    const clients = [...this.clients.values()]
    this.clients.clear()
    await Promise.allSettled(clients.map(async (c) => { await (await c).close() }))
  }

  /** A task's call: as its principal, through this peer's own front session (policy checked, routed over the mesh). */
  private async call (task: Assignment, ctx: CallContext): Promise<unknown> {
    const client = await this.clientFor(task.principal)
    return await client.callTool({ name: `${task.server}__${task.tool}`, arguments: task.arguments, _meta: ctx.meta }, undefined, { signal: ctx.signal, timeout: task.timeoutMs })
  }

  /**
   * The principal a task runs as, read from the log. One written before principals were typed
   * cannot be told apart (a token subject or a peer id): it runs as `anonymous`, never with more rights.
   */
  private principalOf (value: string): Principal {
    try {
      return parsePrincipal(value)
    } catch (err) {
      this.log.warn('a task of principal %s runs as anonymous: %s', JSON.stringify(value), errorMessage(err))
      return ANONYMOUS_PRINCIPAL
    }
  }

  private async clientFor (principal: string): Promise<Client> {
    let c = this.clients.get(principal)
    if (c === undefined) {
      if (this.clients.size >= MAX_PRINCIPAL_CLIENTS) {
        const [oldest, client] = this.clients.entries().next().value!
        this.clients.delete(oldest)
        void client.then(async (x) => { await x.close() }).catch(() => {})
      }
      c = (async () => {
        const session = this.c.router.openSession({ principal: this.principalOf(principal), door: 'local', view: { kind: 'mesh' }, enforcePolicy: true })
        const [clientSide, serverSide] = InMemoryTransport.createLinkedPair()
        await session.server.connect(serverSide)
        const client = new Client({ name: 'p2p-mcp-scheduler', version: VERSION })
        await client.connect(clientSide)
        return client
      })()
      this.clients.set(principal, c)
      c.catch(() => { this.clients.delete(principal) })
    }
    return await c
  }

  tools (): BuiltinTool[] {
    return TOOLS.map((tool) => ({ tool, call: async (args, ctx) => await this.callTool(tool.name, args, ctx.principal, ctx.signal) }))
  }

  resources (): BuiltinResource[] {
    return [{
      resource: { uri: 'mesh://workflows', name: 'mesh__workflows', title: 'Workflows', mimeType: 'application/json' },
      read: () => ({ contents: [{ uri: 'mesh://workflows', mimeType: 'application/json', text: JSON.stringify(this.state.listWorkflows({ state: 'all' }), null, 2) }] }),
    }]
  }

  /** Reads after a linearizable barrier when this peer holds a replica; otherwise it cannot answer. */
  private async readable (): Promise<void> {
    const plane = this.plane()
    if (!plane.inConf()) throw Object.assign(new Error('this peer holds no replica of the control plane: ask a member peer'), { name: 'ControlPlaneUnavailableError' })
    await plane.read({ what: 'status' })
  }

  private async propose (cmd: SchedulerCommand, id?: string): Promise<Record<string, unknown>> {
    const r = await this.plane().propose('scheduler', cmd, id === undefined ? {} : { id }) as { ok: boolean, code?: string, message?: string, field?: string } & Record<string, unknown>
    if (!r.ok) throw Object.assign(new Error(r.message ?? 'refused'), { name: 'SchedulerRejectedError', code: r.code, field: r.field })
    return r
  }

  async callTool (name: string, args: Record<string, unknown>, principal: string, signal: AbortSignal): Promise<CallToolResult> {
    try {
      switch (name) {
        case 'mesh__submit_workflow': {
          const a = SubmitArgs.safeParse(args)
          if (!a.success) return failure('InvalidArgumentsError', `mesh__submit_workflow: ${firstIssue(a.error)}`)
          const workflow = this.withAnnotations(a.data.workflow)
          parseWorkflow(workflow)
          const origin = this.executor === undefined ? undefined : this.c.peerId
          const r = await this.propose({ type: 'submit', workflow, principal, ...(a.data.requestId === undefined ? {} : { requestId: a.data.requestId }), ...(origin === undefined ? {} : { origin }) },
            a.data.requestId === undefined ? undefined : `submit:${principal}:${a.data.requestId}`)
          const workflowId = r.workflowId as string
          if (a.data.wait === true) await this.waitFor(workflowId, a.data.waitTimeoutMs ?? MAX_WAIT_MS, signal)
          await this.readable().catch(() => {})
          return result({ workflowId, created: r.created, status: this.state.getWorkflowStatus(workflowId) })
        }
        case 'mesh__workflow_status': {
          const a = StatusArgs.safeParse(args)
          if (!a.success) return failure('InvalidArgumentsError', `mesh__workflow_status: ${firstIssue(a.error)}`)
          await this.readable()
          const s = this.state.getWorkflowStatus(a.data.workflowId, { tasks: a.data.tasks === true })
          return s === undefined ? failure('UnknownWorkflowError', `no workflow ${JSON.stringify(a.data.workflowId)} (never submitted, or compacted after its retention)`) : result(s)
        }
        case 'mesh__list_workflows': {
          const a = ListArgs.safeParse(args)
          if (!a.success) return failure('InvalidArgumentsError', `mesh__list_workflows: ${firstIssue(a.error)}`)
          await this.readable()
          const filter: { state?: WorkflowState | 'all', tag?: WorkflowTag } = {}
          if (a.data.status !== undefined) filter.state = a.data.status
          if (a.data.tag !== undefined) filter.tag = a.data.tag
          return result({ workflows: this.state.listWorkflows(filter) })
        }
        case 'mesh__cancel_workflow': {
          const a = CancelArgs.safeParse(args)
          if (!a.success) return failure('InvalidArgumentsError', `mesh__cancel_workflow: ${firstIssue(a.error)}`)
          return result(await this.propose({ type: 'cancel', workflowId: a.data.workflowId, ...(a.data.reason === undefined ? {} : { reason: a.data.reason }) }))
        }
        case 'mesh__network_status': {
          await this.readable()
          const executors = this.state.listExecutors()
          const workflows = this.state.listWorkflows({ state: 'running' })
          return result({
            executors, peerCount: executors.filter((e) => e.live).length,
            activeTasks: executors.reduce((n, e) => n + e.running, 0), queuedAtExecutors: executors.reduce((n, e) => n + e.leased, 0),
            runningWorkflows: workflows.length, health: executors.some((e) => e.live) ? 'ok' : 'no live executor', counters: this.state.stats,
          })
        }
        case 'mesh__rebalance': {
          const a = RebalanceArgs.safeParse(args)
          if (!a.success) return failure('InvalidArgumentsError', `mesh__rebalance: ${firstIssue(a.error)}`)
          const strategy = a.data.strategy ?? 'load'
          return result(await this.propose(strategy === 'latency' ? { type: 'rebalance', strategy, latencyMs: this.latencies() } : { type: 'rebalance', strategy }))
        }
      }
      return failure('UnknownToolError', `${name} is not a scheduler tool`)
    } catch (err) {
      const e = err as Error & { field?: string }
      if (err instanceof InvalidWorkflowError) return result({ error: e.name, message: e.message, field: e.field }, true)
      return result({ error: e.name, message: e.message, ...(e.field === undefined ? {} : { field: e.field }) }, true)
    }
  }

  /** Tasks without annotations get those of the tool as the mesh lists it (idempotent or read-only ones may be re-run after a crash). */
  private withAnnotations (input: unknown): unknown {
    const w = input as WorkflowSpec | undefined
    if (w === null || typeof w !== 'object' || !Array.isArray(w.tasks)) return input
    return {
      ...w,
      tasks: w.tasks.map((t: TaskSpec) => {
        if (t === null || typeof t !== 'object' || t.annotations !== undefined) return t
        const name = t.tool ?? (t.server !== undefined && t.name !== undefined ? `${t.server}__${t.name}` : undefined)
        const listed = name === undefined ? undefined : this.c.router.catalog.tool(name)
        return listed?.idempotent === true ? { ...t, annotations: { idempotentHint: true } } : t
      }),
    }
  }

  /** Per-peer latency measured by this peer's client pools (for the latency strategy). */
  private latencies (): Record<string, number> {
    const out: Record<string, number> = {}
    for (const pool of this.c.router.allPools().values()) {
      for (const e of pool.stats().endpoints) if (Number.isFinite(e.ewmaLatencyMs)) out[e.id] = Math.min(out[e.id] ?? Infinity, e.ewmaLatencyMs)
    }
    return out
  }

  private async waitFor (workflowId: string, timeoutMs: number, signal: AbortSignal): Promise<WorkflowStatus | undefined> {
    const done = (): boolean => { const s = this.state.getWorkflowStatus(workflowId); return s === undefined || s.state !== 'running' }
    if (done()) return this.state.getWorkflowStatus(workflowId)
    await new Promise<void>((resolve) => {
      let set = this.waiters.get(workflowId)
      if (set === undefined) this.waiters.set(workflowId, set = new Set())
      const timer = setTimeout(finish, timeoutMs)
      timer.unref()
      const waiters = this.waiters
      function finish (): void { clearTimeout(timer); set!.delete(check); if (set!.size === 0) waiters.delete(workflowId); signal.removeEventListener('abort', finish); resolve() }
      function check (): void { if (done()) finish() }
      set.add(check)
      signal.addEventListener('abort', finish, { once: true })
    })
    return this.state.getWorkflowStatus(workflowId)
  }
}
