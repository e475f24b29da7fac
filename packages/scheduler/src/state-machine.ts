import { FibonacciHeap } from '@p2p-mcp/fibonacci-heap'
import type { HeapNode } from '@p2p-mcp/fibonacci-heap'
import {
  COMMAND_VERSION, DEFAULT_LEASE_MS, DEFAULT_MAX_ARGUMENT_BYTES, DEFAULT_MAX_ASSIGNED_PER_EXECUTOR, DEFAULT_MAX_ATTEMPTS, DEFAULT_MAX_CONCURRENT_TASKS,
  DEFAULT_MAX_EXECUTORS, DEFAULT_MAX_RESULT_BYTES, DEFAULT_MAX_TASKS, DEFAULT_MAX_TASKS_PER_WORKFLOW, DEFAULT_MAX_WORKFLOW_BYTES, DEFAULT_MAX_WORKFLOWS,
  DEFAULT_PRIORITY, DEFAULT_RETENTION_MS, DEFAULT_RETRY_BACKOFF_MS, DEFAULT_RETRY_BACKOFF_MULTIPLIER, DEFAULT_TASK_TIMEOUT_MS, MAX_RETRY_BACKOFF_MS, MODULE_NAME,
  SNAPSHOT_VERSION
} from './constants.js'
import { InvalidOptionError, InvalidWorkflowError, SnapshotFormatError, errorMessage } from './errors.js'
import { canonicalJson, fingerprint, hammingDistance, rendezvousScore, utf8Length } from './hash.js'
import { commandSchema, fieldPath, parseWorkflow, resolveReferences } from './schema.js'
import type { SchedulerCommand } from './schema.js'
import type {
  ApplyContext, Assignment, ExecutorInfo, JsonValue, Rejection, RejectionCode, ReplicatedModule, SchedulerStateInit, Task, TaskState, TaskStatus, WorkflowState,
  WorkflowStatus, WorkflowTag
} from './types.js'

const KIND_TAGS: ReadonlySet<string> = new Set(['unit-test', 'code-generation', 'web-scraping', 'data-processing'])
const TERMINAL: ReadonlySet<TaskState> = new Set(['completed', 'failed', 'cancelled', 'skipped'])

interface WorkflowRecord {
  id: string
  name: string
  tag: WorkflowTag
  principal: string
  origin: string | undefined
  requestId: string | undefined
  fingerprint: string
  submittedAtMs: number
  finishedAtMs: number | undefined
  state: WorkflowState
  taskKeys: string[]
  /** Tasks not yet completed, failed, cancelled or skipped. */
  open: number
}

interface ExecutorRecord {
  id: string
  capabilities: string[]
  capSet: Set<string>
  maxConcurrent: number
  maxAssigned: number
  lastHeartbeatMs: number
  live: boolean
  /** Keys of tasks leased to it or running on it, in assignment order. */
  assigned: Set<string>
  running: number
}

type QueueKey = readonly [priority: number, seq: number]
const compareQueueKeys = (a: QueueKey, b: QueueKey): number => a[0] - b[0] || a[1] - b[1]

/** Counters kept in the replicated state (equal on every replica, part of snapshots). */
export interface SchedulerCounters {
  submitted: number
  assignments: number
  reassignments: number
  starts: number
  completions: number
  failures: number
  retries: number
  steals: number
  leaseExpiries: number
  unknowns: number
  staleRejected: number
  duplicateCompletions: number
  compacted: number
}

/** An event for hosts (progress notifications, resource updates). Emitted during apply; not part of the state. */
export type SchedulerEvent =
  | { type: 'task', workflowId: string, taskId: string, state: TaskState, owner: string | undefined, epoch: number }
  | { type: 'workflow', workflowId: string, state: WorkflowState }

export type ApplyResult = ({ ok: true } & Record<string, unknown>) | Rejection

function reject (code: RejectionCode, message: string, field?: string): Rejection {
  return field === undefined ? { ok: false, code, message } : { ok: false, code, message, field }
}

function positiveInt (name: string, v: number | undefined, d: number): number {
  const x = v ?? d
  if (!Number.isInteger(x) || x < 1) throw new InvalidOptionError(name, v, 'a positive integer')
  return x
}

/** A copy with every field present, in one order: equal states give equal snapshot bytes. */
function taskRecord (t: Task): Task {
  return {
    workflowId: t.workflowId, id: t.id, server: t.server, tool: t.tool, arguments: t.arguments, priority: t.priority, requires: t.requires, prefers: t.prefers, tag: t.tag,
    dependsOn: t.dependsOn, timeoutMs: t.timeoutMs, retry: t.retry, idempotencyKey: t.idempotencyKey, rerunSafe: t.rerunSafe, state: t.state, owner: t.owner,
    epoch: t.epoch, attempts: t.attempts, leasedAtMs: t.leasedAtMs, startedAtMs: t.startedAtMs, finishedAtMs: t.finishedAtMs,
    notBeforeMs: t.notBeforeMs, result: t.result, error: t.error, resolvedArguments: t.resolvedArguments, seq: t.seq,
  }
}

function workflowRecord (w: WorkflowRecord): WorkflowRecord {
  return {
    id: w.id, name: w.name, tag: w.tag, principal: w.principal, origin: w.origin, requestId: w.requestId, fingerprint: w.fingerprint,
    submittedAtMs: w.submittedAtMs, finishedAtMs: w.finishedAtMs, state: w.state, taskKeys: w.taskKeys, open: w.open,
  }
}

function emptyCounters (): SchedulerCounters {
  return { submitted: 0, assignments: 0, reassignments: 0, starts: 0, completions: 0, failures: 0, retries: 0, steals: 0, leaseExpiries: 0, unknowns: 0, staleRejected: 0, duplicateCompletions: 0, compacted: 0 }
}

/**
 * The scheduler's replicated state machine. Deterministic: its state depends only on the
 * commands applied and the ApplyContext of each (log index and log time); it reads no clock,
 * no randomness and no gossip, so every replica computes the same owners, epochs and results.
 */
export class SchedulerState implements ReplicatedModule {
  readonly name = MODULE_NAME
  readonly version = COMMAND_VERSION
  readonly leaseMs: number
  private readonly retentionMs: number
  private readonly maxWorkflows: number
  private readonly maxTasksPerWorkflow: number
  private readonly maxTasks: number
  private readonly maxArgumentBytes: number
  private readonly maxResultBytes: number
  private readonly maxWorkflowBytes: number
  private readonly maxExecutors: number
  private readonly maxAssignedDefault: number

  private workflows = new Map<string, WorkflowRecord>()
  private requests = new Map<string, string>()
  private tasks = new Map<string, Task>()
  private executors = new Map<string, ExecutorRecord>()
  /** Keys of a task's dependents (within its workflow). */
  private dependents = new Map<string, string[]>()
  /** Dependencies of a task not yet completed. */
  private waiting = new Map<string, number>()
  private queue = new FibonacciHeap<QueueKey, string>({ compare: compareQueueKeys })
  private queued = new Map<string, HeapNode<QueueKey, string>>()
  /** Queued tasks waiting out a retry backoff (keys), moved to `queue` by tick. */
  private delayed = new Set<string>()
  private seq = 0
  private nowMs = 0
  private counters = emptyCounters()
  private readonly listeners = new Set<(e: SchedulerEvent) => void>()

  constructor (init: SchedulerStateInit = {}) {
    this.leaseMs = positiveInt('leaseMs', init.leaseMs, DEFAULT_LEASE_MS)
    this.retentionMs = positiveInt('retentionMs', init.retentionMs, DEFAULT_RETENTION_MS)
    this.maxWorkflows = positiveInt('maxWorkflows', init.maxWorkflows, DEFAULT_MAX_WORKFLOWS)
    this.maxTasksPerWorkflow = positiveInt('maxTasksPerWorkflow', init.maxTasksPerWorkflow, DEFAULT_MAX_TASKS_PER_WORKFLOW)
    this.maxTasks = positiveInt('maxTasks', init.maxTasks, DEFAULT_MAX_TASKS)
    this.maxArgumentBytes = positiveInt('maxArgumentBytes', init.maxArgumentBytes, DEFAULT_MAX_ARGUMENT_BYTES)
    this.maxResultBytes = positiveInt('maxResultBytes', init.maxResultBytes, DEFAULT_MAX_RESULT_BYTES)
    this.maxWorkflowBytes = positiveInt('maxWorkflowBytes', init.maxWorkflowBytes, DEFAULT_MAX_WORKFLOW_BYTES)
    this.maxExecutors = positiveInt('maxExecutors', init.maxExecutors, DEFAULT_MAX_EXECUTORS)
    this.maxAssignedDefault = positiveInt('maxAssignedPerExecutor', init.maxAssignedPerExecutor, DEFAULT_MAX_ASSIGNED_PER_EXECUTOR)
  }

  /** Listens to task and workflow transitions (for progress notifications); returns the unsubscribe function. */
  subscribe (listener: (e: SchedulerEvent) => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  /** Log time of the last applied entry. */
  get timeMs (): number { return this.nowMs }

  get stats (): Readonly<SchedulerCounters> { return this.counters }

  // ---------------------------------------------------------------- apply

  /** Applies one command. Bad commands are refused with a typed result, never thrown. */
  apply (command: unknown, ctx: ApplyContext): ApplyResult {
    this.nowMs = Math.max(this.nowMs, ctx.timeMs)
    const parsed = commandSchema.safeParse(command)
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!
      return reject('invalid-command', issue.message, fieldPath(issue.path))
    }
    const cmd = parsed.data
    const result = this.dispatch(cmd, ctx)
    if (result.ok) this.schedule()
    return result
  }

  /** Expires executors that stopped heartbeating, ends retry backoffs, compacts old workflows, assigns. */
  tick (ctx: ApplyContext): void {
    this.nowMs = Math.max(this.nowMs, ctx.timeMs)
    const now = this.nowMs
    for (const e of this.executors.values()) {
      if (e.live && now - e.lastHeartbeatMs > this.leaseMs) this.expireExecutor(e)
    }
    for (const e of this.executors.values()) {
      for (const key of [...e.assigned]) {
        const t = this.tasks.get(key)!
        // An owner that heartbeats but never finishes a call loses the task at its timeout plus a lease.
        if (t.state === 'running' && now > t.startedAtMs! + t.timeoutMs + this.leaseMs) this.interrupted(t, 'call exceeded its timeout and a lease without an answer')
      }
    }
    for (const key of [...this.delayed]) {
      const t = this.tasks.get(key)!
      if (t.notBeforeMs <= now) { this.delayed.delete(key); this.enqueue(t) }
    }
    for (const w of [...this.workflows.values()]) {
      if (w.finishedAtMs !== undefined && now - w.finishedAtMs >= this.retentionMs) this.compact(w)
    }
    this.schedule()
  }

  private dispatch (cmd: SchedulerCommand, ctx: ApplyContext): ApplyResult {
    switch (cmd.type) {
      case 'register': return this.register(cmd)
      case 'heartbeat': {
        const e = this.executors.get(cmd.executor)
        if (e === undefined) return reject('unknown-executor', `executor "${cmd.executor}" is not registered; send register first`, 'executor')
        e.lastHeartbeatMs = this.nowMs
        e.live = true
        return { ok: true }
      }
      case 'deregister': {
        const e = this.executors.get(cmd.executor)
        if (e === undefined) return reject('unknown-executor', `executor "${cmd.executor}" is not registered`, 'executor')
        this.expireExecutor(e)
        this.executors.delete(e.id)
        return { ok: true }
      }
      case 'submit': return this.submit(cmd, ctx)
      case 'start': return this.start(cmd)
      case 'complete': return this.complete(cmd)
      case 'fail': return this.fail(cmd)
      case 'release': {
        const t = this.ownedTask(cmd)
        if (!('state' in t)) return t
        if (t.state === 'leased') this.requeue(t)
        else this.interrupted(t, cmd.reason ?? 'released by its owner mid-call')
        return { ok: true }
      }
      case 'steal': return this.steal(cmd.executor)
      case 'cancel': return this.cancel(cmd.workflowId, cmd.reason)
      case 'resolve': return this.resolve(cmd)
      case 'rebalance': return this.rebalance(cmd.strategy, cmd.latencyMs)
      case 'tick': this.tick(ctx); return { ok: true }
    }
  }

  private register (cmd: Extract<SchedulerCommand, { type: 'register' }>): ApplyResult {
    let e = this.executors.get(cmd.executor)
    if (e === undefined) {
      if (this.executors.size >= this.maxExecutors) return reject('too-many-executors', `${this.maxExecutors} executors are registered (maxExecutors); deregister one first`)
      e = { id: cmd.executor, capabilities: [], capSet: new Set(), maxConcurrent: 1, maxAssigned: 1, lastHeartbeatMs: 0, live: true, assigned: new Set(), running: 0 }
      this.executors.set(e.id, e)
    }
    e.capabilities = [...new Set(cmd.capabilities)].sort()
    e.capSet = new Set(e.capabilities)
    e.maxConcurrent = cmd.maxConcurrent ?? DEFAULT_MAX_CONCURRENT_TASKS
    e.maxAssigned = Math.max(cmd.maxAssigned ?? this.maxAssignedDefault, e.maxConcurrent)
    e.lastHeartbeatMs = this.nowMs
    e.live = true
    return { ok: true }
  }

  private submit (cmd: Extract<SchedulerCommand, { type: 'submit' }>, ctx: ApplyContext): ApplyResult {
    if (cmd.requestId !== undefined) {
      const existing = this.requests.get(cmd.requestId)
      if (existing !== undefined) return { ok: true, workflowId: existing, created: false }
    }
    let parsed
    try {
      parsed = parseWorkflow(cmd.workflow, this.maxTasksPerWorkflow)
    } catch (err) {
      if (err instanceof InvalidWorkflowError) return reject(err.field === 'tasks' && err.message.includes('maxTasksPerWorkflow') ? 'too-many-tasks' : 'invalid-workflow', err.message, `workflow.${err.field}`)
      throw err
    }
    const spec = parsed.spec
    const canonical = canonicalJson(spec)
    const bytes = utf8Length(canonical)
    if (bytes > this.maxWorkflowBytes) return reject('too-large', `workflow is ${bytes} bytes, over maxWorkflowBytes ${this.maxWorkflowBytes}; split it`, 'workflow')
    const fp = fingerprint(canonical)
    const workflowId = spec.id ?? `wf-${ctx.index}`
    const existing = this.workflows.get(workflowId)
    if (existing !== undefined) {
      if (existing.fingerprint !== fp) return reject('workflow-id-conflict', `workflow "${workflowId}" exists with other content; choose another id`, 'workflow.id')
      return { ok: true, workflowId, created: false }
    }
    if (this.workflows.size >= this.maxWorkflows) return reject('too-many-workflows', `${this.workflows.size} workflows are held (maxWorkflows); wait for some to finish and be compacted`)
    if (this.tasks.size + parsed.tasks.length > this.maxTasks) return reject('too-many-tasks', `${this.tasks.size} tasks are held and ${parsed.tasks.length} more exceed maxTasks ${this.maxTasks}; wait or split`)
    for (let i = 0; i < parsed.tasks.length; i++) {
      const a = parsed.tasks[i]!.arguments
      const n = a === undefined ? 2 : utf8Length(canonicalJson(a))
      if (n > this.maxArgumentBytes) return reject('too-large', `arguments are ${n} bytes, over maxArgumentBytes ${this.maxArgumentBytes}`, `workflow.tasks[${i}].arguments`)
    }
    const w: WorkflowRecord = {
      id: workflowId, name: spec.name ?? workflowId, tag: spec.tag ?? 'p2p-eligible', principal: cmd.principal ?? 'anonymous', origin: cmd.origin,
      requestId: cmd.requestId, fingerprint: fp, submittedAtMs: this.nowMs, finishedAtMs: undefined, state: 'running', taskKeys: [], open: parsed.tasks.length,
    }
    this.workflows.set(workflowId, w)
    if (cmd.requestId !== undefined) this.requests.set(cmd.requestId, workflowId)
    for (const s of parsed.tasks) {
      const key = `${workflowId}/${s.id}`
      const retry = {
        maxAttempts: s.retry?.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
        backoffMs: s.retry?.backoffMs ?? DEFAULT_RETRY_BACKOFF_MS,
        backoffMultiplier: s.retry?.backoffMultiplier ?? DEFAULT_RETRY_BACKOFF_MULTIPLIER,
      }
      const t: Task = {
        workflowId, id: s.id, server: s.server, tool: s.toolName, arguments: s.arguments ?? {}, priority: s.priority ?? spec.priority ?? DEFAULT_PRIORITY,
        requires: [...new Set(s.requires ?? [])].sort(), prefers: [...new Set(s.prefers ?? [])].sort(), tag: s.tag ?? w.tag, dependsOn: s.deps,
        timeoutMs: s.timeoutMs ?? DEFAULT_TASK_TIMEOUT_MS, retry, idempotencyKey: s.idempotencyKey ?? key,
        rerunSafe: s.annotations?.readOnlyHint === true || s.annotations?.idempotentHint === true || s.honoursIdempotencyKey === true,
        state: 'pending', owner: undefined, epoch: 0, attempts: 0, leasedAtMs: undefined, startedAtMs: undefined, finishedAtMs: undefined, notBeforeMs: 0,
        result: undefined, error: undefined, resolvedArguments: undefined, seq: this.seq++,
      }
      this.tasks.set(key, t)
      w.taskKeys.push(key)
      this.waiting.set(key, s.deps.length)
      for (const d of s.deps) {
        const dk = `${workflowId}/${d}`
        const l = this.dependents.get(dk)
        if (l === undefined) this.dependents.set(dk, [key]); else l.push(key)
      }
    }
    this.counters.submitted++
    for (const key of w.taskKeys) if (this.waiting.get(key) === 0) this.makeReady(this.tasks.get(key)!)
    return { ok: true, workflowId, created: true, tasks: w.taskKeys.length }
  }

  /** The task a start/complete/fail/release names, if the executor owns it under this epoch. */
  private ownedTask (cmd: { workflowId: string, taskId: string, executor: string, epoch: number }): Task | Rejection {
    const t = this.tasks.get(`${cmd.workflowId}/${cmd.taskId}`)
    if (t === undefined) {
      return this.workflows.has(cmd.workflowId)
        ? reject('unknown-task', `workflow "${cmd.workflowId}" has no task "${cmd.taskId}"`, 'taskId')
        : reject('unknown-workflow', `no workflow "${cmd.workflowId}" (never submitted, or compacted after its retention)`, 'workflowId')
    }
    if (TERMINAL.has(t.state)) {
      if (t.state === 'completed') this.counters.duplicateCompletions++
      return reject('already-finished', `task ${cmd.workflowId}/${cmd.taskId} is already ${t.state}`)
    }
    if (t.owner !== cmd.executor || t.epoch !== cmd.epoch) {
      this.counters.staleRejected++
      return reject(t.epoch !== cmd.epoch ? 'stale-epoch' : 'not-owner', `task ${cmd.workflowId}/${cmd.taskId} is at epoch ${t.epoch} owned by ${t.owner ?? 'nobody'}; ${cmd.executor} at epoch ${cmd.epoch} must drop it`, 'epoch')
    }
    return t
  }

  private start (cmd: Extract<SchedulerCommand, { type: 'start' }>): ApplyResult {
    const t = this.ownedTask(cmd)
    if (!('state' in t)) return t
    if (t.state === 'running') return { ok: true, already: true }
    if (t.state !== 'leased') return reject('wrong-state', `task is ${t.state}, not leased`)
    const e = this.executors.get(t.owner!)!
    t.state = 'running'
    t.startedAtMs = this.nowMs
    t.attempts++
    e.running++
    this.counters.starts++
    this.emitTask(t)
    return { ok: true, arguments: t.resolvedArguments ?? t.arguments }
  }

  private complete (cmd: Extract<SchedulerCommand, { type: 'complete' }>): ApplyResult {
    const t = this.ownedTask(cmd)
    if (!('state' in t)) {
      return t
    }
    if (t.state !== 'running') return reject('wrong-state', `task is ${t.state}: commit start before complete`)
    const n = utf8Length(canonicalJson(cmd.result))
    if (n > this.maxResultBytes) return reject('result-too-large', `result is ${n} bytes, over maxResultBytes ${this.maxResultBytes}; fail the task instead`, 'result')
    this.release(t)
    t.state = 'completed'
    t.result = cmd.result
    t.finishedAtMs = this.nowMs
    this.counters.completions++
    this.finished(t)
    return { ok: true }
  }

  private fail (cmd: Extract<SchedulerCommand, { type: 'fail' }>): ApplyResult {
    const t = this.ownedTask(cmd)
    if (!('state' in t)) return t
    if (t.state !== 'running') return reject('wrong-state', `task is ${t.state}: commit start before fail, or release it`)
    this.counters.failures++
    t.error = cmd.error
    if (cmd.retryable !== false && t.attempts < t.retry.maxAttempts) {
      const wait = Math.min(MAX_RETRY_BACKOFF_MS, t.retry.backoffMs * t.retry.backoffMultiplier ** (t.attempts - 1))
      this.counters.retries++
      this.requeue(t, this.nowMs + wait)
      return { ok: true, retry: true }
    }
    this.release(t)
    t.state = 'failed'
    t.finishedAtMs = this.nowMs
    this.finished(t)
    return { ok: true, retry: false }
  }

  private steal (thiefId: string): ApplyResult {
    const thief = this.executors.get(thiefId)
    if (thief === undefined) return reject('unknown-executor', `executor "${thiefId}" is not registered`, 'executor')
    thief.lastHeartbeatMs = this.nowMs
    thief.live = true
    const free = thief.maxAssigned - thief.assigned.size
    if (free <= 0 || this.leasedCount(thief) > 0) return reject('nothing-to-steal', `${thiefId} is not idle`)
    // Victims: live executors with tasks leased but not started, most such tasks first.
    const victims = [...this.executors.values()].filter(v => v !== thief && v.live && this.leasedCount(v) > 0)
      .sort((a, b) => this.leasedCount(b) - this.leasedCount(a) || (a.id < b.id ? -1 : 1))
    const stolen: string[] = []
    for (const v of victims) {
      const busy = v.running >= v.maxConcurrent
      const candidates = [...v.assigned].map(k => this.tasks.get(k)!).filter(t => t.state === 'leased' && this.eligible(thief, t))
        .sort((a, b) => a.priority - b.priority || a.seq - b.seq)
      // A busy victim gives up to half of its queue; an idle one keeps what it is about to start.
      const give = Math.min(free - stolen.length, busy ? Math.ceil(candidates.length / 2) : Math.floor((candidates.length - v.maxConcurrent + v.running) / 2))
      for (let i = 0; i < give; i++) {
        const t = candidates[i]!
        this.release(t)
        this.assign(t, thief)
        this.counters.steals++
        stolen.push(`${t.workflowId}/${t.id}`)
      }
      if (stolen.length >= free) break
    }
    if (stolen.length === 0) return reject('nothing-to-steal', 'no executor has queued, unstarted tasks this one can run')
    return { ok: true, stolen }
  }

  private cancel (workflowId: string, reason: string | undefined): ApplyResult {
    const w = this.workflows.get(workflowId)
    if (w === undefined) return reject('unknown-workflow', `no workflow "${workflowId}"`, 'workflowId')
    if (w.state !== 'running') return { ok: true, cancelled: 0, state: w.state }
    let n = 0
    for (const key of w.taskKeys) {
      const t = this.tasks.get(key)!
      if (TERMINAL.has(t.state)) continue
      this.release(t)
      this.unqueue(t)
      t.state = 'cancelled'
      t.error = { message: reason ?? 'workflow cancelled', code: 'cancelled' }
      t.finishedAtMs = this.nowMs
      w.open--
      n++
      this.emitTask(t)
    }
    w.state = 'cancelled'
    w.finishedAtMs = this.nowMs
    this.emit({ type: 'workflow', workflowId, state: 'cancelled' })
    return { ok: true, cancelled: n }
  }

  private resolve (cmd: Extract<SchedulerCommand, { type: 'resolve' }>): ApplyResult {
    const t = this.tasks.get(`${cmd.workflowId}/${cmd.taskId}`)
    if (t === undefined) return reject('unknown-task', `no task ${cmd.workflowId}/${cmd.taskId}`, 'taskId')
    if (t.state !== 'unknown') return reject('wrong-state', `task is ${t.state}; only unknown tasks are resolved`)
    if (cmd.action === 'retry') { this.requeue(t); return { ok: true } }
    t.finishedAtMs = this.nowMs
    if (cmd.action === 'complete') {
      t.state = 'completed'
      t.result = cmd.result ?? null
      this.counters.completions++
    } else {
      t.state = 'failed'
    }
    this.finished(t)
    return { ok: true }
  }

  private rebalance (strategy: 'load' | 'latency', latencyMs: Record<string, number> | undefined): ApplyResult {
    let moved = 0
    const leased = [...this.tasks.values()].filter(t => t.state === 'leased').sort((a, b) => a.seq - b.seq)
    for (const t of leased) {
      const current = this.executors.get(t.owner!)!
      current.assigned.delete(`${t.workflowId}/${t.id}`)
      const best = this.selectOwner(t, strategy === 'latency' ? latencyMs : undefined)
      current.assigned.add(`${t.workflowId}/${t.id}`)
      // Move only when it evens the load by more than the move itself.
      if (best !== undefined && best !== current && (strategy === 'latency' || best.assigned.size + 1 < current.assigned.size)) {
        this.release(t)
        this.assign(t, best)
        moved++
      }
    }
    return { ok: true, moved }
  }

  // ---------------------------------------------------------------- transitions

  private leasedCount (e: ExecutorRecord): number { return e.assigned.size - e.running }

  /** Owner lost: unstarted tasks go back to the queue; running ones follow the interrupted-call rule. */
  private expireExecutor (e: ExecutorRecord): void {
    e.live = false
    this.counters.leaseExpiries++
    for (const key of [...e.assigned]) {
      const t = this.tasks.get(key)!
      if (t.state === 'leased') this.requeue(t)
      else this.interrupted(t, `owner ${e.id} stopped heartbeating mid-call`)
    }
  }

  /** A call cut off mid-flight: re-run only if safe, else `unknown` for the submitter to resolve. */
  private interrupted (t: Task, why: string): void {
    t.error = { message: why, code: 'interrupted' }
    if (t.rerunSafe && t.attempts < t.retry.maxAttempts) { this.counters.retries++; this.requeue(t); return }
    this.release(t)
    if (t.rerunSafe) {
      t.state = 'failed'
      t.finishedAtMs = this.nowMs
      this.finished(t)
      return
    }
    t.state = 'unknown'
    this.counters.unknowns++
    this.emitTask(t)
  }

  private release (t: Task): void {
    if (t.owner === undefined) return
    const e = this.executors.get(t.owner)
    if (e !== undefined) {
      e.assigned.delete(`${t.workflowId}/${t.id}`)
      if (t.state === 'running') e.running--
    }
    t.owner = undefined
  }

  private requeue (t: Task, notBeforeMs = this.nowMs): void {
    this.release(t)
    t.state = 'queued'
    t.notBeforeMs = notBeforeMs
    if (notBeforeMs > this.nowMs) this.delayed.add(`${t.workflowId}/${t.id}`)
    else this.enqueue(t)
    this.emitTask(t)
  }

  private enqueue (t: Task): void {
    const key = `${t.workflowId}/${t.id}`
    if (!this.queued.has(key)) this.queued.set(key, this.queue.insert([t.priority, t.seq], key))
  }

  private unqueue (t: Task): void {
    const key = `${t.workflowId}/${t.id}`
    const node = this.queued.get(key)
    if (node !== undefined) { this.queue.delete(node); this.queued.delete(key) }
    this.delayed.delete(key)
  }

  private makeReady (t: Task): void {
    try {
      t.resolvedArguments = resolveReferences(t.arguments, id => this.tasks.get(`${t.workflowId}/${id}`)?.result) as Record<string, JsonValue>
    } catch (err) {
      this.failPermanently(t, errorMessage(err), 'bad-reference')
      return
    }
    const n = utf8Length(canonicalJson(t.resolvedArguments))
    if (n > this.maxArgumentBytes) { this.failPermanently(t, `resolved arguments are ${n} bytes, over maxArgumentBytes ${this.maxArgumentBytes}`, 'too-large'); return }
    t.state = 'queued'
    this.enqueue(t)
    this.emitTask(t)
  }

  private failPermanently (t: Task, message: string, code: string): void {
    t.state = 'failed'
    t.error = { message, code }
    t.finishedAtMs = this.nowMs
    this.finished(t)
  }

  /** A task reached completed or failed: wake or skip its dependents, finish the workflow when nothing is open. */
  private finished (t: Task): void {
    const w = this.workflows.get(t.workflowId)!
    w.open--
    this.emitTask(t)
    for (const dk of this.dependents.get(`${t.workflowId}/${t.id}`) ?? []) {
      const d = this.tasks.get(dk)!
      if (d.state !== 'pending') continue
      if (t.state === 'completed') {
        const n = this.waiting.get(dk)! - 1
        this.waiting.set(dk, n)
        if (n === 0) this.makeReady(d)
      } else {
        d.state = 'skipped'
        d.error = { message: `dependency ${t.id} ${t.state}`, code: 'dependency-failed' }
        d.finishedAtMs = this.nowMs
        this.finished(d)
      }
    }
    if (w.open === 0 && w.state === 'running') {
      w.state = w.taskKeys.every(k => this.tasks.get(k)!.state === 'completed') ? 'completed' : 'failed'
      w.finishedAtMs = this.nowMs
      this.emit({ type: 'workflow', workflowId: w.id, state: w.state })
    }
  }

  private compact (w: WorkflowRecord): void {
    for (const key of w.taskKeys) { this.tasks.delete(key); this.dependents.delete(key); this.waiting.delete(key) }
    if (w.requestId !== undefined) this.requests.delete(w.requestId)
    this.workflows.delete(w.id)
    this.counters.compacted++
  }

  // ---------------------------------------------------------------- owner selection

  /** Whether `e` may run `t`: requirements met and the tag's placement rule allows it. */
  private eligible (e: ExecutorRecord, t: Task): boolean {
    for (const r of t.requires) if (!e.capSet.has(r)) return false
    const origin = this.workflows.get(t.workflowId)?.origin
    if (t.tag === 'p2p-only' && e.id === origin) return false
    if (t.tag === 'github-api' && origin !== undefined && e.id !== origin) {
      const o = this.executors.get(origin)
      if (o !== undefined && o.live && t.requires.every(r => o.capSet.has(r))) return false
    }
    return true
  }

  /**
   * The owner every replica picks for a task: live executors that meet its requirements and
   * have room, ranked by hamming distance between their capabilities and what the task wants,
   * then (with `latencyMs`) by latency, then by fewest tasks leased in this state machine, then
   * by the rendezvous hash of (task, executor), then by id.
   */
  private selectOwner (t: Task, latencyMs?: Record<string, number>): ExecutorRecord | undefined {
    const key = `${t.workflowId}/${t.id}`
    const wants = new Set([...t.requires, ...t.prefers])
    if (KIND_TAGS.has(t.tag)) wants.add(t.tag)
    let best: ExecutorRecord | undefined
    let bestDist = 0, bestLat = 0, bestLoad = 0, bestScore = 0
    for (const e of this.executors.values()) {
      if (!e.live || e.assigned.size >= e.maxAssigned || !this.eligible(e, t)) continue
      const dist = hammingDistance(e.capSet, wants)
      const lat = latencyMs?.[e.id] ?? Number.MAX_SAFE_INTEGER
      const load = e.assigned.size
      const score = rendezvousScore(key, e.id)
      if (best === undefined || dist < bestDist || (dist === bestDist && (lat < bestLat || (lat === bestLat && (load < bestLoad ||
        (load === bestLoad && (score > bestScore || (score === bestScore && e.id < best.id)))))))) {
        best = e; bestDist = dist; bestLat = lat; bestLoad = load; bestScore = score
      }
    }
    return best
  }

  private assign (t: Task, e: ExecutorRecord): void {
    if (t.epoch > 0) this.counters.reassignments++
    t.state = 'leased'
    t.owner = e.id
    t.epoch++
    t.leasedAtMs = this.nowMs
    e.assigned.add(`${t.workflowId}/${t.id}`)
    this.counters.assignments++
    this.emitTask(t)
  }

  /** Assigns queued tasks, most urgent first, while some live executor has room. */
  private schedule (): void {
    if (this.queue.size === 0) return
    let room = 0
    for (const e of this.executors.values()) if (e.live) room += Math.max(0, e.maxAssigned - e.assigned.size)
    if (room === 0) return
    const skipped: Array<HeapNode<QueueKey, string>> = []
    while (room > 0 && this.queue.size > 0) {
      const node = this.queue.extractMin()!
      const t = this.tasks.get(node.value)!
      const owner = this.selectOwner(t)
      if (owner === undefined) { skipped.push(node); continue }
      this.queued.delete(node.value)
      this.assign(t, owner)
      room--
    }
    for (const node of skipped) this.queued.set(node.value, this.queue.insert(node.key, node.value))
  }

  // ---------------------------------------------------------------- queries

  /** The tasks leased to or running on an executor, in assignment order: what its executor must hold. */
  assignmentsOf (executor: string): Assignment[] {
    const e = this.executors.get(executor)
    if (e === undefined) return []
    const out: Assignment[] = []
    for (const key of e.assigned) {
      const t = this.tasks.get(key)!
      out.push({
        workflowId: t.workflowId, taskId: t.id, key, epoch: t.epoch, state: t.state as 'leased' | 'running', server: t.server, tool: t.tool,
        arguments: t.resolvedArguments ?? t.arguments, priority: t.priority, timeoutMs: t.timeoutMs, idempotencyKey: t.idempotencyKey,
        principal: this.workflows.get(t.workflowId)!.principal, leasedAtMs: t.leasedAtMs!,
      })
    }
    return out
  }

  getTask (workflowId: string, taskId: string): Readonly<Task> | undefined {
    return this.tasks.get(`${workflowId}/${taskId}`)
  }

  /** Status of a workflow (the seed's `get_workflow_status`), or undefined if unknown or compacted. */
  getWorkflowStatus (workflowId: string, options: { tasks?: boolean } = {}): WorkflowStatus | undefined {
    const w = this.workflows.get(workflowId)
    if (w === undefined) return undefined
    const counts: Record<TaskState, number> = { pending: 0, queued: 0, leased: 0, running: 0, completed: 0, failed: 0, unknown: 0, cancelled: 0, skipped: 0 }
    const tasks: TaskStatus[] = []
    for (const key of w.taskKeys) {
      const t = this.tasks.get(key)!
      counts[t.state]++
      if (options.tasks === true) {
        tasks.push({ id: t.id, tool: `${t.server}__${t.tool}`, state: t.state, owner: t.owner, epoch: t.epoch, attempts: t.attempts, priority: t.priority, tag: t.tag, result: t.result, error: t.error })
      }
    }
    return {
      id: w.id, name: w.name, tag: w.tag, state: w.state, principal: w.principal, total: w.taskKeys.length, counts, completed: counts.completed,
      needsResolution: counts.unknown, submittedAtMs: w.submittedAtMs, finishedAtMs: w.finishedAtMs, tasks: options.tasks === true ? tasks : undefined,
    }
  }

  /** Workflows, newest last, optionally filtered by state and tag (the seed's `list_workflows`). */
  listWorkflows (filter: { state?: WorkflowState | 'all', tag?: WorkflowTag } = {}): WorkflowStatus[] {
    const out: WorkflowStatus[] = []
    for (const w of this.workflows.values()) {
      if (filter.state !== undefined && filter.state !== 'all' && w.state !== filter.state) continue
      if (filter.tag !== undefined && w.tag !== filter.tag) continue
      out.push(this.getWorkflowStatus(w.id)!)
    }
    return out
  }

  /** Executors as the log sees them (the seed's `get_p2p_network_status`). */
  listExecutors (): ExecutorInfo[] {
    return [...this.executors.values()].map(e => ({
      id: e.id, capabilities: e.capabilities, maxConcurrent: e.maxConcurrent, maxAssigned: e.maxAssigned, live: e.live, lastHeartbeatMs: e.lastHeartbeatMs,
      leased: this.leasedCount(e), running: e.running,
    }))
  }

  /** Number of workflows and tasks held (for bounds and metrics). */
  get size (): { workflows: number, tasks: number, executors: number, queued: number } {
    return { workflows: this.workflows.size, tasks: this.tasks.size, executors: this.executors.size, queued: this.queued.size + this.delayed.size }
  }

  // ---------------------------------------------------------------- snapshots

  snapshot (): Uint8Array {
    const data = {
      v: SNAPSHOT_VERSION, nowMs: this.nowMs, seq: this.seq, counters: this.counters,
      executors: [...this.executors.values()].map(e => ({ ...e, capSet: undefined, assigned: [...e.assigned] })),
      workflows: [...this.workflows.values()].map(w => workflowRecord(w)),
      tasks: [...this.tasks.values()].map(t => taskRecord(t)),
      requests: [...this.requests],
      // Not derivable: a retry whose backoff ended waits for the next tick, not for the next command.
      delayed: [...this.delayed],
    }
    return new TextEncoder().encode(JSON.stringify(data))
  }

  restore (bytes: Uint8Array): void {
    let data: {
      v: number, nowMs: number, seq: number, counters: SchedulerCounters, executors: Array<Omit<ExecutorRecord, 'capSet' | 'assigned'> & { assigned: string[] }>,
      workflows: WorkflowRecord[], tasks: Task[], requests: Array<[string, string]>, delayed: string[]
    }
    try {
      data = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as typeof data
    } catch (err) {
      throw new SnapshotFormatError('not UTF-8 JSON', { cause: err })
    }
    if (data === null || typeof data !== 'object' || data.v !== SNAPSHOT_VERSION) throw new SnapshotFormatError(`version ${String((data as { v?: unknown } | null)?.v)} is not ${SNAPSHOT_VERSION}`)
    this.nowMs = data.nowMs
    this.seq = data.seq
    this.counters = { ...emptyCounters(), ...data.counters }
    this.executors = new Map(data.executors.map(e => [e.id, { ...e, capSet: new Set(e.capabilities), assigned: new Set(e.assigned) }]))
    this.workflows = new Map(data.workflows.map(w => [w.id, workflowRecord(w)]))
    this.tasks = new Map(data.tasks.map(t => [`${t.workflowId}/${t.id}`, taskRecord(t)]))
    this.requests = new Map(data.requests)
    this.dependents = new Map()
    this.waiting = new Map()
    this.queue = new FibonacciHeap<QueueKey, string>({ compare: compareQueueKeys })
    this.queued = new Map()
    this.delayed = new Set(data.delayed)
    for (const [key, t] of this.tasks) {
      let open = 0
      for (const d of t.dependsOn) {
        const dk = `${t.workflowId}/${d}`
        const l = this.dependents.get(dk)
        if (l === undefined) this.dependents.set(dk, [key]); else l.push(key)
        if (this.tasks.get(dk)!.state !== 'completed') open++
      }
      this.waiting.set(key, open)
      if (t.state === 'queued' && !this.delayed.has(key)) this.enqueue(t)
    }
  }

  // ---------------------------------------------------------------- events

  private emitTask (t: Task): void {
    if (this.listeners.size > 0) this.emit({ type: 'task', workflowId: t.workflowId, taskId: t.id, state: t.state, owner: t.owner, epoch: t.epoch })
  }

  private emit (e: SchedulerEvent): void {
    for (const l of this.listeners) l(e)
  }
}
