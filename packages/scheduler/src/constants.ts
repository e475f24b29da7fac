/** Highest version of the scheduler's log commands this build understands. */
export const COMMAND_VERSION = 1
/** Version of the snapshot format written by `snapshot()`. */
export const SNAPSHOT_VERSION = 1
/** Namespace of the scheduler's commands in the control plane's log. */
export const MODULE_NAME = 'scheduler'

/** An executor whose last heartbeat is older than this (log time) is dead; its leases expire. */
export const DEFAULT_LEASE_MS = 10_000
/** Finished workflows are kept this long (log time) for status queries, then compacted. */
export const DEFAULT_RETENTION_MS = 60 * 60_000
/** Workflows held at once (running + retained). */
export const DEFAULT_MAX_WORKFLOWS = 10_000
/** Tasks in one workflow. */
export const DEFAULT_MAX_TASKS_PER_WORKFLOW = 10_000
/** Tasks held at once over all workflows. */
export const DEFAULT_MAX_TASKS = 200_000
/** UTF-8 bytes of one task's arguments as JSON (after references are resolved). */
export const DEFAULT_MAX_ARGUMENT_BYTES = 64 * 1024
/** UTF-8 bytes of one task's result as JSON. */
export const DEFAULT_MAX_RESULT_BYTES = 256 * 1024
/** UTF-8 bytes of one submitted workflow as JSON. */
export const DEFAULT_MAX_WORKFLOW_BYTES = 4 * 1024 * 1024
/** Registered executors. */
export const DEFAULT_MAX_EXECUTORS = 1024
/** Tasks leased to one executor at once (queued in its heap or running). */
export const DEFAULT_MAX_ASSIGNED_PER_EXECUTOR = 16

/** Default task priority (lower runs first, as in the seed; 0–1000 recommended). */
export const DEFAULT_PRIORITY = 100
export const MAX_PRIORITY = 1_000_000
/** Default per-task call timeout. */
export const DEFAULT_TASK_TIMEOUT_MS = 60_000
export const DEFAULT_MAX_ATTEMPTS = 3
export const DEFAULT_RETRY_BACKOFF_MS = 1_000
export const DEFAULT_RETRY_BACKOFF_MULTIPLIER = 2
export const MAX_RETRY_BACKOFF_MS = 10 * 60_000

/** Executor: calls run at once (the seed's `max_concurrent_tasks`). */
export const DEFAULT_MAX_CONCURRENT_TASKS = 4
/** Executor: a queued task's key is multiplied by this once per boost interval (the seed's `priority_boost_factor`). */
export const DEFAULT_PRIORITY_BOOST_FACTOR = 0.9
/** Executor: how often queued tasks are boosted. */
export const DEFAULT_BOOST_INTERVAL_MS = 1_000
/** Executor: heartbeat period; a third of the lease so two heartbeats may be lost. */
export const DEFAULT_HEARTBEAT_MS = 3_000
/** Executor: a proposal not yet visible in the log is proposed again after this. */
export const DEFAULT_REPROPOSE_MS = 2_000
/** Executor: an idle executor asks to steal at most this often (the seed's `enable_task_stealing`). */
export const DEFAULT_STEAL_INTERVAL_MS = 1_000
