import type { RejectionCode } from './types.js'

/** A workflow (or a task in it) failed validation; `field` is the path of the offending value. */
export class InvalidWorkflowError extends TypeError {
  override name = 'InvalidWorkflowError'
  readonly code = 'ERR_INVALID_WORKFLOW'
  readonly field: string

  constructor (field: string, problem: string, options?: ErrorOptions) {
    super(`invalid workflow: ${field === '' ? '(root)' : field}: ${problem}`, options)
    this.field = field
  }
}

/** The state machine refused a command (a stale epoch, a full table, an unknown workflow…); `reason` is the stable code. */
export class SchedulerRejectedError extends Error {
  override name = 'SchedulerRejectedError'
  readonly code = 'ERR_SCHEDULER_REJECTED'
  readonly reason: RejectionCode
  readonly field: string | undefined

  constructor (reason: RejectionCode, message: string, field?: string) {
    super(`${reason}: ${message}`)
    this.reason = reason
    this.field = field
  }
}

/** A snapshot could not be restored: wrong version or corrupt bytes. */
export class SnapshotFormatError extends Error {
  override name = 'SnapshotFormatError'
  readonly code = 'ERR_SNAPSHOT_FORMAT'

  constructor (problem: string, options?: ErrorOptions) {
    super(`scheduler snapshot cannot be restored: ${problem}; restore a snapshot written by a compatible @p2p-mcp/scheduler`, options)
  }
}

/** An option passed to a constructor or factory was out of range or of the wrong type. */
export class InvalidOptionError extends TypeError {
  override name = 'InvalidOptionError'
  readonly code = 'ERR_INVALID_OPTION'

  constructor (option: string, value: unknown, expected: string) {
    super(`option ${option} = ${String(JSON.stringify(value))} is invalid: expected ${expected}`)
  }
}

/** A task's call was aborted: the task was cancelled, moved to another executor, or the executor stopped. */
export class TaskAbortedError extends Error {
  override name = 'TaskAbortedError'
  readonly code = 'ERR_TASK_ABORTED'

  constructor (taskKey: string, why: string) {
    super(`task ${taskKey} aborted: ${why}`)
  }
}

/** The message of anything thrown (an `Error`'s message, else its string form). */
export function errorMessage (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
