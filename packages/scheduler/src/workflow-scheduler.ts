import { BoostedQueue } from './boosted-queue.js'
import { SchedulerRejectedError } from './errors.js'
import { parseWorkflow } from './schema.js'
import type { SchedulerCommand } from './schema.js'
import { SchedulerState } from './state-machine.js'
import type { ApplyResult } from './state-machine.js'
import type { Assignment, JsonValue, SchedulerStateInit, WorkflowSpec, WorkflowState, WorkflowStatus, WorkflowTag } from './types.js'

export interface WorkflowSchedulerInit extends SchedulerStateInit {
  /** This process's executor id (the seed's `node_id`). @default 'local' */
  nodeId?: string
  /** Capability tags of this process. @default [] */
  capabilities?: string[]
  /** @default 0.9 */
  priorityBoostFactor?: number
  /** @default 1000 */
  boostIntervalMs?: number
  /** Clock of the local log. @default Date.now */
  now?: () => number
}

/** A task handed out by `getNextTask()`: run it, then call `complete` or `fail` exactly once. */
export interface LocalTask extends Assignment {
  complete(result: JsonValue): void
  fail(error: { message: string, code?: string }, options?: { retryable?: boolean }): void
}

/**
 * The seed's single-process API (`P2PWorkflowScheduler`): the same state machine applied
 * locally, with this process as its only executor. `submitWorkflow`/`scheduleWorkflow` add a
 * workflow, `getNextTask` hands out the most urgent ready task (starvation boost included),
 * `getWorkflowStatus` reports `{ completed, total, … }`. Across peers, run `SchedulerState` in
 * the control plane's log and an `Executor` on each peer instead.
 */
export class WorkflowScheduler {
  readonly state: SchedulerState
  readonly nodeId: string
  private readonly now: () => number
  private readonly queue: BoostedQueue<Assignment>
  private readonly queued = new Set<string>()
  private index = 0
  private registered = false
  private readonly capabilities: string[]

  constructor (init: WorkflowSchedulerInit = {}) {
    // One process runs everything: lease every ready task to it, and never let its lease lapse.
    this.state = new SchedulerState({ maxAssignedPerExecutor: init.maxTasks ?? 200_000, leaseMs: Number.MAX_SAFE_INTEGER, ...init })
    this.nodeId = init.nodeId ?? 'local'
    this.capabilities = init.capabilities ?? []
    this.now = init.now ?? Date.now
    this.queue = new BoostedQueue({ priorityBoostFactor: init.priorityBoostFactor, boostIntervalMs: init.boostIntervalMs })
  }

  /** Applies a command to the local state; throws SchedulerRejectedError when it is refused. */
  apply (command: SchedulerCommand): ApplyResult & { ok: true } {
    const r = this.state.apply(command, { index: ++this.index, timeMs: this.now() })
    if (!r.ok) throw new SchedulerRejectedError(r.code, r.message, r.field)
    return r
  }

  /** Validates and adds a workflow; returns its id (the same id again for a repeated `requestId` or workflow id). Throws InvalidWorkflowError naming the field. */
  scheduleWorkflow (workflow: WorkflowSpec, options: { requestId?: string, principal?: string } = {}): string {
    parseWorkflow(workflow)
    this.ensureRegistered()
    const r = this.apply({ type: 'submit', workflow, origin: this.nodeId, ...options })
    return r.workflowId as string
  }

  /** The seed's async `submit_workflow`. */
  submitWorkflow (workflow: WorkflowSpec, options: { requestId?: string, principal?: string } = {}): Promise<string> {
    try {
      return Promise.resolve(this.scheduleWorkflow(workflow, options))
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)))
    }
  }

  getWorkflowStatus (workflowId: string, options: { tasks?: boolean } = {}): WorkflowStatus | undefined {
    return this.state.getWorkflowStatus(workflowId, options)
  }

  listWorkflows (filter: { state?: WorkflowState | 'all', tag?: WorkflowTag } = {}): WorkflowStatus[] {
    return this.state.listWorkflows(filter)
  }

  cancelWorkflow (workflowId: string): number {
    return this.apply({ type: 'cancel', workflowId }).cancelled as number
  }

  /** Ends retry backoffs and compacts finished workflows past their retention. */
  tick (): void {
    this.state.tick({ index: this.index, timeMs: this.now() })
  }

  /** The most urgent ready task, started, or undefined when none is ready. */
  getNextTask (): LocalTask | undefined {
    this.ensureRegistered()
    this.tick()
    for (const a of this.state.assignmentsOf(this.nodeId)) {
      if (a.state === 'leased' && !this.queued.has(a.key)) { this.queued.add(a.key); this.queue.insert(a, a.priority, this.now()) }
    }
    this.queue.boost(this.now())
    for (;;) {
      const a = this.queue.pop()
      if (a === undefined) return undefined
      this.queued.delete(a.key)
      const r = this.state.apply({ type: 'start', workflowId: a.workflowId, taskId: a.taskId, executor: this.nodeId, epoch: a.epoch }, { index: ++this.index, timeMs: this.now() })
      if (!r.ok) continue // cancelled since it was queued
      const base = { workflowId: a.workflowId, taskId: a.taskId, executor: this.nodeId, epoch: a.epoch }
      return {
        ...a,
        state: 'running',
        arguments: r.arguments as Record<string, JsonValue>,
        complete: (result) => { this.apply({ type: 'complete', ...base, result }) },
        fail: (error, options = {}) => { this.apply({ type: 'fail', ...base, error, retryable: options.retryable }) },
      }
    }
  }

  private ensureRegistered (): void {
    if (this.registered) return
    this.registered = true
    this.apply({ type: 'register', executor: this.nodeId, capabilities: this.capabilities, maxConcurrent: 1 })
  }
}
