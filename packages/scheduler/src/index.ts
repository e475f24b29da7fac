/**
 * @packageDocumentation
 *
 * Distributed workflows of MCP tool calls. A workflow is a DAG of tool calls with priorities,
 * requirements, the seed's workflow tags, retry policies and idempotency keys. `SchedulerState`
 * is a deterministic state machine for a replicated log: every replica picks the same owner for
 * each task (requirements, then hamming distance over capabilities, then fewest leased tasks,
 * then a rendezvous hash), leases carry epochs, stale owners are fenced, and each task completes
 * at most once. `Executor` runs a peer's tasks from a Fibonacci-heap queue with starvation boost.
 * `WorkflowScheduler` is the seed's single-process API.
 */
export { SchedulerState } from './state-machine.js'
export type { ApplyResult, SchedulerCounters, SchedulerEvent } from './state-machine.js'
export { Executor } from './executor.js'
export type { CallContext, CallTool, ExecutorInit, HeldTask, Propose, SchedulerView } from './executor.js'
export { BoostedQueue, starvationBoundIntervals } from './boosted-queue.js'
export type { BoostedQueueInit, QueueHandle } from './boosted-queue.js'
export { WorkflowScheduler } from './workflow-scheduler.js'
export type { LocalTask, WorkflowSchedulerInit } from './workflow-scheduler.js'
export { commandSchema, jsonPointer, parseWorkflow, resolveReferences, splitToolName, taskSpecSchema, workflowSpecSchema } from './schema.js'
export type { ParsedWorkflow, SchedulerCommand } from './schema.js'
export { canonicalJson, hammingDistance, rendezvousScore } from './hash.js'
export { InvalidOptionError, InvalidWorkflowError, SchedulerRejectedError, SnapshotFormatError, TaskAbortedError } from './errors.js'
export { WorkflowTag } from './types.js'
export type {
  ApplyContext, Assignment, ExecutorInfo, JsonValue, Logger, Rejection, RejectionCode, ReplicatedModule, RetryPolicy, SchedulerStateInit, Task, TaskSpec, TaskState,
  TaskStatus, WorkflowSpec, WorkflowState, WorkflowStatus
} from './types.js'
export { COMMAND_VERSION, MODULE_NAME } from './constants.js'
