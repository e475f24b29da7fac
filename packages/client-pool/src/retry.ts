import type { RequestOptions } from '@modelcontextprotocol/sdk/shared/protocol.js'
import type { IBackoff, IRetryBackoffContext } from 'cockatiel'
import type { Operation } from './call-api.js'
import type { FailureKind } from './classify.js'
import type { Endpoint } from './endpoint.js'
import { CallFailedError, ReplicaStalledError } from './errors.js'
import type { CallFailureReason } from './errors.js'
import type { RetrySettings } from './options.js'
import type { ScopeCore } from './scope.js'
import { describe } from './session.js'
import { sleep } from './timers.js'
import type { ToolCatalog } from './tool-catalog.js'
import type { CallOptions, Emit } from './types.js'

const neverAborted = new AbortController().signal

/** One call in progress, across its attempts. */
export interface CallState<T> {
  scope: ScopeCore
  op: Operation<T>
  options: CallOptions | undefined
  request: RequestOptions
  tried: Endpoint[]
  attempts: number
  current: string
  /** When the current attempt's request was handed to the session (after any connect). */
  sentAt: number
  /** The backoff of the next retry. */
  backoff: IBackoff<IRetryBackoffContext<unknown>> | undefined
  /** The error of the last failed attempt. */
  lastError: unknown
  /** Aborts the current attempt only (the stall detector's handle); undefined without stall detection. */
  attemptAbort: AbortController | undefined
  /** The stall detector is abandoning the current attempt. */
  abandoning: boolean
  /** A hedge (docs/decisions/0152): does not pin a sticky scope, not counted as a call. */
  hedge: boolean
  /** Told the endpoint of each attempt (the hedger sends its copy elsewhere). */
  track: { current: Endpoint | undefined } | undefined
}

/** A failed attempt as the retry policy sees it. */
export class AttemptFailure extends Error {
  readonly error: unknown
  readonly endpointId: string
  readonly kind: FailureKind
  readonly retryable: boolean
  readonly call: CallState<unknown>
  budgetRefused = false

  constructor (error: unknown, endpointId: string, kind: FailureKind, retryable: boolean, call: CallState<unknown>) {
    super(describe(error))
    this.error = error
    this.endpointId = endpointId
    this.kind = kind
    this.retryable = retryable
    this.call = call
  }
}

/**
 * The retry policy: whether a failed attempt may be sent again (safe, attempts and budget
 * left), the backoff before it, and the error the caller gets when it may not.
 */
export class Retrier {
  retries = 0
  budgetExhausted = 0
  private readonly settings: RetrySettings
  private readonly catalog: ToolCatalog
  private readonly emit: Emit

  constructor (settings: RetrySettings, catalog: ToolCatalog, emit: Emit) {
    this.settings = settings
    this.catalog = catalog
    this.emit = emit
  }

  /** Waits the backoff before the next attempt (decorrelated jitter by default), and says so. */
  async pause (call: CallState<unknown>, failure: AttemptFailure): Promise<void> {
    const factory = this.settings.backoff!
    const context = { attempt: call.attempts, signal: call.request.signal ?? neverAborted, result: { error: failure.error } }
    call.backoff = call.backoff === undefined ? factory.next(context) : call.backoff.next(context)
    const delayMs = call.backoff.duration
    this.retries++
    this.emit('retry', { id: failure.endpointId, attempt: call.attempts, delayMs, method: call.op.method, error: failure.error })
    if (delayMs > 0) await sleep(delayMs, call.request.signal)
  }

  /** Counts a call for the retry budget. */
  recordCall (): void {
    this.settings.budget?.recordCall()
  }

  async safe (call: CallState<unknown>): Promise<boolean> {
    return await this.safeOp(call.op, call.options)
  }

  /** Whether `op` may run twice: its own `idempotent` option, else reads are, else the tool's annotations; never with retries off. */
  async safeOp (op: Operation<unknown>, options: CallOptions | undefined): Promise<boolean> {
    if (this.settings.backoff === undefined) return false
    const own = options?.idempotent
    if (own !== undefined) return own
    if (op.safe !== undefined) return op.safe
    if (this.settings.idempotency === 'never' || op.tool === undefined) return false
    return await this.catalog.safe(op.tool)
  }

  /** Takes one retry out of the budget for a hedge; false when the budget is spent. */
  withdraw (): boolean {
    return this.settings.budget === undefined || this.settings.budget.tryWithdraw()
  }

  /** Retry a safe failure while attempts and budget remain. */
  mayRetry (error: AttemptFailure): boolean {
    if (!error.retryable || this.settings.backoff === undefined) return false
    const signal = error.call.request.signal
    if (signal?.aborted === true) return false
    if (error.call.attempts >= this.settings.maxAttempts) return false
    if (this.settings.budget !== undefined && !this.settings.budget.tryWithdraw()) {
      error.budgetRefused = true
      this.budgetExhausted++
      return false
    }
    return true
  }

  finalError (call: CallState<unknown>, err: unknown): unknown {
    if (!(err instanceof AttemptFailure)) return err
    if (err.kind === 'caller') return err.error
    let reason: CallFailureReason
    if (err.budgetRefused) reason = 'budget-exhausted'
    else if (!err.retryable && err.error instanceof ReplicaStalledError) reason = 'outcome-unknown'
    else if (!err.retryable) reason = this.settings.backoff === undefined ? 'retry-disabled' : 'not-idempotent'
    else if (this.settings.backoff === undefined) reason = 'retry-disabled'
    else reason = 'attempts-exhausted'
    return new CallFailedError(call.op.method, err.endpointId, call.attempts, reason, err.kind === 'refused' || err.kind === 'unreachable', err.error)
  }
}
