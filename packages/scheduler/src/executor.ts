import { BoostedQueue } from './boosted-queue.js'
import type { QueueHandle } from './boosted-queue.js'
import {
  DEFAULT_HEARTBEAT_MS, DEFAULT_MAX_ASSIGNED_PER_EXECUTOR, DEFAULT_MAX_CONCURRENT_TASKS, DEFAULT_REPROPOSE_MS, DEFAULT_STEAL_INTERVAL_MS
} from './constants.js'
import { InvalidOptionError, TaskAbortedError, errorMessage } from './errors.js'
import type { SchedulerCommand } from './schema.js'
import type { Assignment, ExecutorInfo, JsonValue, Logger } from './types.js'

/** What an executor reads: its local replica of the scheduler state (a SchedulerState fits). */
export interface SchedulerView {
  assignmentsOf(executor: string): Assignment[]
  listExecutors(): ExecutorInfo[]
}

/** Passed with every call. `epoch` and `idempotencyKey` travel in the request's `_meta` so an upstream can fence and deduplicate. */
export interface CallContext {
  /** Aborted when the task is cancelled, moved to another executor, times out, or the executor stops. */
  signal: AbortSignal
  epoch: number
  idempotencyKey: string
  /** The principal that submitted the workflow: the call runs as it, and policy is checked again. */
  principal: string
  /** `_meta` to send with the call. */
  meta: { 'p2p-mcp/idempotency-key': string, 'p2p-mcp/epoch': number, 'p2p-mcp/task': string }
}

/**
 * Runs one task's tool call. Resolves with the call's result (JSON; an MCP `CallToolResult`
 * with `isError: true` counts as a failure); rejects on a transport error. An error with
 * `retryable: false` is not retried.
 */
export type CallTool = (task: Assignment, ctx: CallContext) => PromiseLike<unknown>

/** Sends a command to the log (through the control plane). Fire and forget: the executor learns the outcome from its view. */
export type Propose = (command: SchedulerCommand) => void | PromiseLike<unknown>

export interface ExecutorInit {
  /** This executor's id in the scheduler (the peer id). */
  id: string
  /** Capability tags it registers with. @default [] */
  capabilities?: string[]
  /** Calls at once (the seed's `max_concurrent_tasks`). @default 4 */
  maxConcurrentTasks?: number
  /** Tasks the scheduler may lease to it at once. @default 16 */
  maxAssigned?: number
  /** @default 0.9 */
  priorityBoostFactor?: number
  /** @default 1000 */
  boostIntervalMs?: number
  /** Heartbeat period; keep it under a third of the state machine's leaseMs. @default 3000 */
  heartbeatMs?: number
  /** A start, completion or release not yet visible in the view is proposed again after this. @default 2000 */
  reproposeMs?: number
  /** Ask to steal queued tasks from busy executors when idle (the seed's `enable_task_stealing`). @default true */
  enableTaskStealing?: boolean
  /** @default 1000 */
  stealIntervalMs?: number
  view: SchedulerView
  propose: Propose
  callTool: CallTool
  /** Clock for heartbeats, boosts and call timeouts (not for the state machine). @default Date.now */
  now?: () => number
  /** Interval of the background `tick()` started by `start()`; 0 leaves ticking to the host. @default 100 */
  tickMs?: number
  logger?: Logger
}

type Phase = 'queued' | 'starting' | 'running' | 'reporting' | 'releasing'

interface Held {
  a: Assignment
  phase: Phase
  handle: QueueHandle<string> | undefined
  controller: AbortController | undefined
  proposedAtMs: number
  startedAtMs: number
  outcome: SchedulerCommand | undefined
}

/** One entry of `Executor.view()`: a task the executor holds, and where it is. */
export interface HeldTask { key: string, epoch: number, phase: Phase }

const noopLogger: Logger = { debug () {}, info () {}, warn () {}, error () {} }

/**
 * The executor on each peer: keeps the tasks the log leased to it in a BoostedQueue, starts
 * them (committing `start` under their epoch before calling), runs at most `maxConcurrentTasks`
 * calls, reports results through the log, heartbeats, steals when idle, and aborts calls whose
 * task was cancelled or moved. All decisions follow its view of the replicated state, so an
 * executor that restarts or lags converges to what the log says.
 */
export class Executor {
  readonly id: string
  private readonly init: Required<Pick<ExecutorInit, 'maxConcurrentTasks' | 'maxAssigned' | 'heartbeatMs' | 'reproposeMs' | 'enableTaskStealing' | 'stealIntervalMs' | 'tickMs'>>
  private readonly capabilities: string[]
  private readonly view: SchedulerView
  private readonly proposeFn: Propose
  private readonly callTool: CallTool
  private readonly now: () => number
  private readonly log: Logger
  private readonly queue: BoostedQueue<string>
  private readonly held = new Map<string, Held>()
  private inFlight = 0
  private lastHeartbeatMs = -Infinity
  private lastStealMs = -Infinity
  private timer: ReturnType<typeof setInterval> | undefined
  private running = false

  constructor (init: ExecutorInit) {
    this.id = init.id
    const int = (name: keyof ExecutorInit, v: number | undefined, d: number, min = 1): number => {
      const x = v ?? d
      if (!Number.isInteger(x) || x < min) throw new InvalidOptionError(name, v, `an integer ≥ ${min}`)
      return x
    }
    this.init = {
      maxConcurrentTasks: int('maxConcurrentTasks', init.maxConcurrentTasks, DEFAULT_MAX_CONCURRENT_TASKS),
      maxAssigned: int('maxAssigned', init.maxAssigned, DEFAULT_MAX_ASSIGNED_PER_EXECUTOR),
      heartbeatMs: int('heartbeatMs', init.heartbeatMs, DEFAULT_HEARTBEAT_MS),
      reproposeMs: int('reproposeMs', init.reproposeMs, DEFAULT_REPROPOSE_MS),
      enableTaskStealing: init.enableTaskStealing ?? true,
      stealIntervalMs: int('stealIntervalMs', init.stealIntervalMs, DEFAULT_STEAL_INTERVAL_MS),
      tickMs: int('tickMs', init.tickMs, 100, 0),
    }
    this.capabilities = init.capabilities ?? []
    this.view = init.view
    this.proposeFn = init.propose
    this.callTool = init.callTool
    this.now = init.now ?? Date.now
    this.log = init.logger ?? noopLogger
    this.queue = new BoostedQueue({ priorityBoostFactor: init.priorityBoostFactor, boostIntervalMs: init.boostIntervalMs })
  }

  /** Registers and starts the background tick (unref'd). Idempotent. */
  start (): void {
    if (this.running) return
    this.running = true
    this.register()
    if (this.init.tickMs > 0) {
      this.timer = setInterval(() => { this.tick() }, this.init.tickMs)
      this.timer.unref?.()
    }
  }

  /** Stops ticking and aborts every call in flight (their tasks are re-run or marked unknown by the log once the lease lapses). Idempotent. */
  stop (options: { deregister?: boolean } = {}): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
    const held = [...this.held.values()]
    this.held.clear()
    for (const h of held) h.controller?.abort(new TaskAbortedError(h.a.key, 'executor stopped'))
    this.inFlight = 0
    while (this.queue.pop() !== undefined) { /* drain */ }
    if (this.running && options.deregister === true) this.propose({ type: 'deregister', executor: this.id })
    this.running = false
  }

  /** Registers with the scheduler (again, e.g. after its lease lapsed). */
  register (): void {
    this.lastHeartbeatMs = this.now()
    this.propose({ type: 'register', executor: this.id, capabilities: this.capabilities, maxConcurrent: this.init.maxConcurrentTasks, maxAssigned: this.init.maxAssigned })
  }

  /** Tasks held: queued in the heap, starting, calling, reporting or releasing. Built from the heap and the calls in flight. */
  heldTasks (): HeldTask[] {
    const out: HeldTask[] = []
    for (const key of this.queue.items()) out.push({ key, epoch: this.held.get(key)!.a.epoch, phase: 'queued' })
    for (const h of this.held.values()) if (h.phase !== 'queued') out.push({ key: h.a.key, epoch: h.a.epoch, phase: h.phase })
    return out
  }

  /** Calls in flight now. */
  get activeCalls (): number { return this.inFlight }

  /** Brings the held tasks in line with the view: new leases queued, moved or cancelled tasks dropped (calls aborted), committed starts called. */
  reconcile (): void {
    const list = this.view.assignmentsOf(this.id)
    const byKey = new Map<string, Assignment>()
    for (const a of list) byKey.set(a.key, a)
    for (const [key, h] of this.held) {
      const a = byKey.get(key)
      if (a === undefined || a.epoch !== h.a.epoch) this.drop(h, a === undefined ? 'no longer assigned to this executor' : `reassigned (epoch ${a.epoch})`)
    }
    for (const a of list) {
      const h = this.held.get(a.key)
      if (h === undefined) {
        if (a.state === 'leased') {
          this.held.set(a.key, { a, phase: 'queued', handle: this.queue.insert(a.key, a.priority, this.now()), controller: undefined, proposedAtMs: 0, startedAtMs: 0, outcome: undefined })
        } else {
          // Running under our epoch but not held: this executor restarted mid-call. Give it back.
          const r: Held = { a, phase: 'releasing', handle: undefined, controller: undefined, proposedAtMs: this.now(), startedAtMs: 0, outcome: { type: 'release', workflowId: a.workflowId, taskId: a.taskId, executor: this.id, epoch: a.epoch, reason: 'executor restarted mid-call' } }
          this.held.set(a.key, r)
          this.propose(r.outcome!)
        }
      } else if (h.phase === 'starting' && a.state === 'running') {
        this.call(h, a)
      }
    }
    this.pump()
  }

  /** Heartbeats, times out calls, proposes again what the log has not shown yet, boosts, steals when idle, then reconciles. */
  tick (): void {
    const now = this.now()
    if (now - this.lastHeartbeatMs >= this.init.heartbeatMs) {
      const me = this.view.listExecutors().find(e => e.id === this.id)
      if (me === undefined || !me.live) this.register()
      else { this.lastHeartbeatMs = now; this.propose({ type: 'heartbeat', executor: this.id }) }
    }
    for (const h of this.held.values()) {
      if (h.phase === 'running' && now - h.startedAtMs > h.a.timeoutMs) {
        h.controller?.abort(new TaskAbortedError(h.a.key, `timed out after ${h.a.timeoutMs} ms`))
        this.report(h, { type: 'fail', workflowId: h.a.workflowId, taskId: h.a.taskId, executor: this.id, epoch: h.a.epoch, error: { message: `call timed out after ${h.a.timeoutMs} ms`, code: 'timeout' }, retryable: true })
      } else if ((h.phase === 'starting' || h.phase === 'reporting' || h.phase === 'releasing') && now - h.proposedAtMs >= this.init.reproposeMs) {
        h.proposedAtMs = now
        this.propose(h.phase === 'starting' ? this.startCommand(h) : h.outcome!)
      }
    }
    if (this.init.enableTaskStealing && this.queue.size === 0 && this.inFlight < this.init.maxConcurrentTasks && now - this.lastStealMs >= this.init.stealIntervalMs) {
      if (this.view.listExecutors().some(e => e.id !== this.id && e.live && e.leased > 0)) {
        this.lastStealMs = now
        this.propose({ type: 'steal', executor: this.id })
      }
    }
    this.reconcile()
  }

  private startCommand (h: Held): SchedulerCommand {
    return { type: 'start', workflowId: h.a.workflowId, taskId: h.a.taskId, executor: this.id, epoch: h.a.epoch }
  }

  private propose (cmd: SchedulerCommand): void {
    try {
      const r = this.proposeFn(cmd)
      if (r !== undefined && cmd.type === 'complete') {
        r.then(res => { this.onCompleteRejected(cmd, res) }, () => { /* lost proposals are proposed again by tick */ })
      }
    } catch (err) {
      this.log.warn('proposal of %s failed: %s', cmd.type, errorMessage(err))
    }
  }

  /** A completion too large for the log becomes a failure that is not retried. */
  private onCompleteRejected (cmd: Extract<SchedulerCommand, { type: 'complete' }>, res: unknown): void {
    const code = (res as { ok?: boolean, code?: string } | undefined)?.code
    const h = this.held.get(`${cmd.workflowId}/${cmd.taskId}`)
    if (code !== 'result-too-large' || h === undefined || h.a.epoch !== cmd.epoch) return
    this.report(h, { type: 'fail', workflowId: cmd.workflowId, taskId: cmd.taskId, executor: this.id, epoch: cmd.epoch, error: { message: 'result exceeds the log\'s maxResultBytes', code: 'result-too-large' }, retryable: false })
  }

  private pump (): void {
    if (this.queue.size === 0 || this.inFlight >= this.init.maxConcurrentTasks) return
    const now = this.now()
    this.queue.boost(now)
    while (this.inFlight < this.init.maxConcurrentTasks) {
      const key = this.queue.pop()
      if (key === undefined) break
      const h = this.held.get(key)!
      h.handle = undefined
      h.phase = 'starting'
      h.proposedAtMs = now
      this.inFlight++
      this.propose(this.startCommand(h))
    }
  }

  private call (h: Held, a: Assignment): void {
    h.phase = 'running'
    h.a = a
    h.startedAtMs = this.now()
    const controller = new AbortController()
    h.controller = controller
    const ctx: CallContext = {
      signal: controller.signal, epoch: a.epoch, idempotencyKey: a.idempotencyKey, principal: a.principal,
      meta: { 'p2p-mcp/idempotency-key': a.idempotencyKey, 'p2p-mcp/epoch': a.epoch, 'p2p-mcp/task': a.key },
    }
    let pending: PromiseLike<unknown>
    try {
      pending = this.callTool(a, ctx)
    } catch (err) {
      this.settle(h, false, err)
      return
    }
    pending.then(v => { this.settle(h, true, v) }, err => { this.settle(h, false, err) })
  }

  private settle (h: Held, ok: boolean, value: unknown): void {
    if (this.held.get(h.a.key) !== h || h.phase !== 'running') return
    const base = { workflowId: h.a.workflowId, taskId: h.a.taskId, executor: this.id, epoch: h.a.epoch }
    if (!ok) {
      const err = value as { message?: string, name?: string, retryable?: boolean } | undefined
      this.report(h, { type: 'fail', ...base, error: { message: String(err?.message ?? value), code: err?.name }, retryable: err?.retryable !== false })
      return
    }
    let result: JsonValue
    try {
      result = JSON.parse(JSON.stringify(value ?? null)) as JsonValue
    } catch (err) {
      this.report(h, { type: 'fail', ...base, error: { message: `result is not JSON: ${errorMessage(err)}`, code: 'bad-result' }, retryable: false })
      return
    }
    if (result !== null && typeof result === 'object' && !Array.isArray(result) && result.isError === true) {
      this.report(h, { type: 'fail', ...base, error: { message: 'the tool returned isError', code: 'tool-error' }, retryable: false })
      return
    }
    this.report(h, { type: 'complete', ...base, result })
  }

  private report (h: Held, cmd: SchedulerCommand): void {
    if (h.phase === 'running' || h.phase === 'starting') this.inFlight--
    h.phase = 'reporting'
    h.controller = undefined
    h.outcome = cmd
    h.proposedAtMs = this.now()
    this.propose(cmd)
    this.pump()
  }

  private drop (h: Held, why: string): void {
    this.held.delete(h.a.key)
    if (h.phase === 'queued' && h.handle !== undefined) this.queue.delete(h.handle)
    if (h.phase === 'running' || h.phase === 'starting') this.inFlight--
    if (h.phase === 'running') {
      this.log.debug('aborting %s: %s', h.a.key, why)
      h.controller?.abort(new TaskAbortedError(h.a.key, why))
    }
  }
}
