function show (value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'object' && value !== null) {
    try { return JSON.stringify(value) } catch { return Object.prototype.toString.call(value) }
  }
  return String(value)
}

/** An option of `createClientPool`, `add` or `scope` has a value that cannot work. */
export class InvalidParametersError extends TypeError {
  override name = 'InvalidParametersError'
  readonly code = 'ERR_INVALID_PARAMETERS'

  constructor (option: string, value: unknown, expected: string) {
    super(`option ${option} is ${show(value)}: expected ${expected}`)
  }
}

/** `add()` got an endpoint id that is already in the pool. */
export class DuplicateEndpointError extends Error {
  override name = 'DuplicateEndpointError'
  readonly code = 'ERR_DUPLICATE_ENDPOINT'

  constructor (id: string) {
    super(`endpoint ${show(id)} is already in the pool; remove() it first or pick another id`)
  }
}

/** An endpoint id that is not in the pool. */
export class UnknownEndpointError extends Error {
  override name = 'UnknownEndpointError'
  readonly code = 'ERR_UNKNOWN_ENDPOINT'

  constructor (id: string, known: readonly string[]) {
    super(`no endpoint ${show(id)} in the pool (endpoints: ${known.length === 0 ? 'none' : known.join(', ')})`)
  }
}

/** The pool or scope was closed; it takes no more calls. */
export class PoolClosedError extends Error {
  override name = 'PoolClosedError'
  readonly code = 'ERR_POOL_CLOSED'

  constructor (what = 'pool') {
    super(`the client ${what} is closed; create a new one to make more calls`)
  }
}

/** No endpoint could take the call: none matches, or every one is unhealthy, ejected, open or draining. */
export class NoEndpointAvailableError extends Error {
  override name = 'NoEndpointAvailableError'
  readonly code = 'ERR_NO_ENDPOINT_AVAILABLE'
  /** Why each endpoint was passed over. */
  readonly reasons: Readonly<Record<string, string>>

  constructor (method: string, reasons: Record<string, string>, options?: ErrorOptions) {
    const list = Object.entries(reasons).map(([id, why]) => `${id}: ${why}`).join('; ')
    super(`no endpoint can take ${method} (${list === '' ? 'the pool has no endpoints; add() some' : list})`, options)
    this.reasons = reasons
  }
}

/** Opening an upstream session failed: the request never left, so it is safe to send elsewhere. */
export class ConnectError extends Error {
  override name = 'ConnectError'
  readonly code = 'ERR_CONNECT'
  readonly endpointId: string

  constructor (endpointId: string, detail: string, options?: ErrorOptions) {
    super(`cannot open an MCP session to endpoint ${show(endpointId)}: ${detail}`, options)
    this.endpointId = endpointId
  }
}

/** An endpoint's bulkhead (running calls and queue) is full: the call never left, and goes elsewhere if it can. */
export class BulkheadFullError extends Error {
  override name = 'BulkheadFullError'
  readonly code = 'ERR_BULKHEAD_FULL'
  readonly endpointId: string

  constructor (endpointId: string, maxConcurrent: number, maxQueue: number) {
    super(`endpoint ${show(endpointId)} already runs ${maxConcurrent} calls and queues ${maxQueue} ` +
      '(raise bulkhead.maxConcurrentPerEndpoint or bulkhead.maxQueue, or add endpoints)')
    this.endpointId = endpointId
  }
}

/**
 * A replica stopped answering while an attempt was in flight on it (docs/decisions/0151);
 * the pool abandoned the attempt. The request may or may not have run there.
 */
export class ReplicaStalledError extends Error {
  override name = 'ReplicaStalledError'
  readonly code = 'ERR_REPLICA_STALLED'
  readonly endpointId: string
  readonly silentMs: number

  constructor (endpointId: string, silentMs: number) {
    super(`endpoint ${show(endpointId)} stalled: nothing came back from it for ${Math.round(silentMs)} ms, health checks included`)
    this.endpointId = endpointId
    this.silentMs = silentMs
  }
}

/**
 * Why a failed call was not retried, or not retried again. 'outcome-unknown': the replica
 * stalled with the call in flight and the call is not safe to send again; it may or may not
 * have run.
 */
export type CallFailureReason = 'not-idempotent' | 'attempts-exhausted' | 'budget-exhausted' | 'retry-disabled' | 'outcome-unknown'

/**
 * A call failed on the replica's side (connection lost, timeout, server error) and was not
 * retried. `cause` is the last error; `reason` says why it stopped.
 */
export class CallFailedError extends Error {
  override name = 'CallFailedError'
  readonly code = 'ERR_CALL_FAILED'
  readonly method: string
  readonly endpointId: string
  readonly attempts: number
  readonly reason: CallFailureReason
  /** False when the request may have reached the server (it may have run). */
  readonly neverSent: boolean

  constructor (method: string, endpointId: string, attempts: number, reason: CallFailureReason, neverSent: boolean, cause: unknown) {
    const why = {
      'not-idempotent': 'not retried: the tool is neither readOnlyHint nor idempotentHint and the request may have run ' +
        '(pass { idempotent: true } if running it twice is safe)',
      'attempts-exhausted': `gave up after ${attempts} attempts (raise retry.maxAttempts)`,
      'budget-exhausted': 'not retried: the retry budget is spent, too many calls are failing (see retry.budgetPercent)',
      'retry-disabled': 'not retried: retries are off (retry: false)',
      'outcome-unknown': 'the call was abandoned and may or may not have run there (outcome unknown); not sent again since the tool is ' +
        'neither readOnlyHint nor idempotentHint (pass { idempotent: true } if running it twice is safe)',
    }[reason]
    const detail = cause instanceof Error ? cause.message : show(cause)
    super(`${method} failed on endpoint ${show(endpointId)}: ${detail}; ${why}`, { cause })
    this.method = method
    this.endpointId = endpointId
    this.attempts = attempts
    this.reason = reason
    this.neverSent = neverSent
  }
}
