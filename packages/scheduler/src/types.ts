/** A JSON value: what arguments, results and snapshots are made of. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue }

/**
 * The seed's workflow tags (IPFS Accelerate `WorkflowTag`) and what each means here.
 * `github-api`: a standard, non-distributed workflow: its tasks run on the executor that
 * accepted the workflow (its origin) while that executor is live, elsewhere only when it is not.
 * `p2p-eligible`: may run on any matching executor (the default).
 * `p2p-only`: must run via the mesh, never on the origin executor; waits if no other executor matches.
 * `unit-test`, `code-generation`, `web-scraping`, `data-processing`: kinds of work; each is also a
 * soft capability in the hamming ranking (an executor advertising it ranks closer) and a filter in listings.
 */
export const WorkflowTag = {
  GITHUB_API: 'github-api',
  P2P_ELIGIBLE: 'p2p-eligible',
  P2P_ONLY: 'p2p-only',
  UNIT_TEST: 'unit-test',
  CODE_GENERATION: 'code-generation',
  WEB_SCRAPING: 'web-scraping',
  DATA_PROCESSING: 'data-processing',
} as const
export type WorkflowTag = typeof WorkflowTag[keyof typeof WorkflowTag]

/** How a failed call is retried. */
export interface RetryPolicy {
  /** Attempts in all, the first included. @default 3 */
  maxAttempts: number
  /** Wait (log time) before the second attempt. @default 1000 */
  backoffMs: number
  /** Each further wait is the previous one times this. @default 2 */
  backoffMultiplier: number
}

/** A task as submitted. Exactly one of `tool` (`<server>__<tool>`) or `server` + `name` names the tool. */
export interface TaskSpec {
  /** Unique in the workflow: letters, digits, `_ . : -`, up to 128 characters. */
  id: string
  /** The mesh tool name `<server>__<tool>`. */
  tool?: string | undefined
  /** The server, with `name`, instead of `tool`. */
  server?: string | undefined
  /** The tool's name on `server`. */
  name?: string | undefined
  /** The call's arguments; `{ "$ref": "<taskId>#<json-pointer>" }` anywhere in them is replaced by a dependency's output. */
  arguments?: Record<string, JsonValue> | undefined
  /** Lower runs first (the seed's convention). @default the workflow's priority, else 100 */
  priority?: number | undefined
  /** Capability tags an executor must have to run the task. @default [] */
  requires?: string[] | undefined
  /** Capability tags that rank an executor closer (hamming distance) without being required. @default [] */
  prefers?: string[] | undefined
  /** @default the workflow's tag, else 'p2p-eligible' */
  tag?: WorkflowTag | undefined
  /** Ids of tasks whose completion this task waits for (references add theirs). @default [] */
  dependsOn?: string[] | undefined
  /** Per-call timeout. @default 60000 */
  timeoutMs?: number | undefined
  retry?: Partial<RetryPolicy> | undefined
  /** Sent with the call in `_meta` so an upstream can deduplicate. @default `<workflowId>/<taskId>` */
  idempotencyKey?: string | undefined
  /** The tool's MCP annotations, as the submitting peer read them. */
  annotations?: { readOnlyHint?: boolean | undefined, idempotentHint?: boolean | undefined } | undefined
  /** The upstream deduplicates calls by the idempotency key. @default false */
  honoursIdempotencyKey?: boolean | undefined
}

/** A workflow as submitted: a DAG of tasks. */
export interface WorkflowSpec {
  /** Client-chosen id; a second submission with the same id returns the first workflow. @default `wf-<log index>` */
  id?: string | undefined
  name?: string | undefined
  tag?: WorkflowTag | undefined
  priority?: number | undefined
  tasks: TaskSpec[]
}

export type TaskState =
  /** Waiting for dependencies. */
  | 'pending'
  /** Ready, no owner yet (or waiting out a retry backoff). */
  | 'queued'
  /** Owned by an executor under an epoch, not started. */
  | 'leased'
  /** Its owner committed the start; the call may be in flight. */
  | 'running'
  | 'completed'
  | 'failed'
  /** Cut off mid-call on a tool that is not safe to re-run: the submitter decides (`resolve`). */
  | 'unknown'
  | 'cancelled'
  /** Not run because a dependency failed or was cancelled. */
  | 'skipped'

export type WorkflowState = 'running' | 'completed' | 'failed' | 'cancelled'

/** A task as the state machine holds it. */
export interface Task {
  readonly workflowId: string
  readonly id: string
  readonly server: string
  readonly tool: string
  /** Arguments as submitted (references unresolved). */
  readonly arguments: Record<string, JsonValue>
  readonly priority: number
  readonly requires: readonly string[]
  readonly prefers: readonly string[]
  readonly tag: WorkflowTag
  readonly dependsOn: readonly string[]
  readonly timeoutMs: number
  readonly retry: RetryPolicy
  readonly idempotencyKey: string
  /** Read-only, idempotent or key-honouring: safe to run again after an owner died mid-call. */
  readonly rerunSafe: boolean
  state: TaskState
  owner: string | undefined
  /** Bumped on every (re)assignment; commands under an older epoch are rejected. */
  epoch: number
  attempts: number
  leasedAtMs: number | undefined
  startedAtMs: number | undefined
  finishedAtMs: number | undefined
  /** Queued tasks waiting out a retry backoff are not assigned before this. */
  notBeforeMs: number
  result: JsonValue | undefined
  error: { message: string, code?: string | undefined } | undefined
  /** Arguments with references resolved, set when the task became ready. */
  resolvedArguments: Record<string, JsonValue> | undefined
  /** Submission order over all tasks: the tie-break after priority. */
  readonly seq: number
}

/** What an executor needs to run one of its tasks. */
export interface Assignment {
  readonly workflowId: string
  readonly taskId: string
  /** `<workflowId>/<taskId>`. */
  readonly key: string
  readonly epoch: number
  readonly state: 'leased' | 'running'
  readonly server: string
  readonly tool: string
  readonly arguments: Record<string, JsonValue>
  readonly priority: number
  readonly timeoutMs: number
  readonly idempotencyKey: string
  readonly principal: string
  readonly leasedAtMs: number
}

export interface TaskStatus {
  id: string
  tool: string
  state: TaskState
  owner: string | undefined
  epoch: number
  attempts: number
  priority: number
  tag: WorkflowTag
  result?: JsonValue | undefined
  error?: { message: string, code?: string | undefined } | undefined
}

export interface WorkflowStatus {
  id: string
  name: string
  tag: WorkflowTag
  state: WorkflowState
  principal: string
  total: number
  /** Counts by task state. */
  counts: Record<TaskState, number>
  /** The seed's `completed`/`total` shape. */
  completed: number
  /** Tasks in `unknown` that wait for the submitter's `resolve`. */
  needsResolution: number
  submittedAtMs: number
  finishedAtMs: number | undefined
  tasks?: TaskStatus[] | undefined
}

export interface ExecutorInfo {
  id: string
  capabilities: readonly string[]
  maxConcurrent: number
  maxAssigned: number
  live: boolean
  lastHeartbeatMs: number
  /** Tasks leased (queued at the executor) or running. */
  leased: number
  running: number
}

/** Stable codes of refused commands. */
export type RejectionCode =
  | 'invalid-command' | 'invalid-workflow' | 'unsupported-version'
  | 'too-many-workflows' | 'too-many-tasks' | 'too-many-executors' | 'too-large' | 'result-too-large'
  | 'workflow-id-conflict' | 'unknown-workflow' | 'unknown-task' | 'unknown-executor'
  | 'stale-epoch' | 'not-owner' | 'wrong-state' | 'already-finished' | 'nothing-to-steal'

export interface Rejection {
  ok: false
  code: RejectionCode
  message: string
  /** Path of the offending field, when one is to blame. */
  field?: string | undefined
}

/** Passed to every apply/tick; everything in it comes from the log (the control plane's contract). */
export interface ApplyContext {
  /** Raft log index of the entry being applied. */
  readonly index: number
  /** Log time in ms (leader timestamp, made monotonic). */
  readonly timeMs: number
}

/**
 * The control plane's module shape (CONTRACT-control-scheduler.md), defined here structurally
 * so the scheduler does not import the control plane.
 */
export interface ReplicatedModule {
  readonly name: string
  readonly version: number
  apply(command: unknown, ctx: ApplyContext): unknown
  tick?(ctx: ApplyContext): void
  snapshot(): Uint8Array
  restore(data: Uint8Array): void
}

export interface Logger {
  debug(msg: string, ...args: unknown[]): void
  info(msg: string, ...args: unknown[]): void
  warn(msg: string, ...args: unknown[]): void
  error(msg: string, ...args: unknown[]): void
  child?(bindings: Record<string, unknown>): Logger
}

/** Options of the replicated state machine. Every replica must use the same values. */
export interface SchedulerStateInit {
  /** @default 10000 */
  leaseMs?: number
  /** @default 3600000 */
  retentionMs?: number
  /** @default 10000 */
  maxWorkflows?: number
  /** @default 10000 */
  maxTasksPerWorkflow?: number
  /** @default 200000 */
  maxTasks?: number
  /** @default 65536 */
  maxArgumentBytes?: number
  /** @default 262144 */
  maxResultBytes?: number
  /** @default 4194304 */
  maxWorkflowBytes?: number
  /** @default 1024 */
  maxExecutors?: number
  /** Default `maxAssigned` of executors that register without one. @default 16 */
  maxAssignedPerExecutor?: number
}
