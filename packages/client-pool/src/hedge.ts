import type { Operation } from './call-api.js'
import type { Endpoint } from './endpoint.js'
import type { ScopeCore } from './scope.js'
import type { CallOptions } from './types.js'

/** The abort reason of the copy that lost a hedged race: not held against its replica. */
export class HedgeLostError extends Error {
  override name = 'HedgeLostError'

  constructor () {
    super('another replica answered this hedged call first')
  }
}

/** What the hedger needs from the pool. */
export interface HedgeContext {
  run: <T>(scope: ScopeCore, op: Operation<T>, options: CallOptions, avoid: Endpoint | undefined,
    extra: { hedge: boolean, track: { current: Endpoint | undefined } | undefined }) => Promise<T>
  safe: (op: Operation<unknown>, options: CallOptions | undefined) => Promise<boolean>
  /** Takes a retry out of the retry budget. */
  withdraw: () => boolean
}

/**
 * Hedged requests (docs/decisions/0152): a call safe to run twice that has no answer after
 * `delayMs` is sent again to another replica, if the retry budget allows; the first answer
 * wins and the other copy is cancelled (`notifications/cancelled`), without counting against
 * its replica. A call for one endpoint (`endpoint` option) is never hedged.
 */
export class Hedger {
  hedges = 0
  private readonly delayMs: number
  private readonly ctx: HedgeContext

  constructor (delayMs: number, ctx: HedgeContext) {
    this.delayMs = delayMs
    this.ctx = ctx
  }

  async call<T> (scope: ScopeCore, op: Operation<T>, options: CallOptions | undefined): Promise<T> {
    const caller = options?.signal
    caller?.throwIfAborted()
    const first = new AbortController()
    const second = new AbortController()
    const onAbort = (): void => {
      first.abort(caller?.reason)
      second.abort(caller?.reason)
    }
    caller?.addEventListener('abort', onAbort, { once: true })
    try {
      const track = { current: undefined as Endpoint | undefined }
      const primary = this.ctx.run(scope, op, { ...options, signal: first.signal }, undefined, { hedge: false, track })
      let timer: ReturnType<typeof setTimeout> | undefined
      const answered = await Promise.race([
        primary.then(() => true, () => true),
        new Promise<false>((resolve) => { timer = setTimeout(() => { resolve(false) }, this.delayMs) }),
      ])
      clearTimeout(timer)
      if (answered || track.current === undefined || first.signal.aborted) return await primary
      if (!await this.ctx.safe(op, options) || !this.ctx.withdraw()) return await primary
      this.hedges++
      const copy = this.ctx.run(scope, op, { ...options, signal: second.signal }, track.current, { hedge: true, track: undefined })
      return await firstAnswer(primary, copy, first, second)
    } finally {
      caller?.removeEventListener('abort', onAbort)
    }
  }
}

/** The first of two copies to succeed; the other is cancelled. Both failing: the first copy's error. */
async function firstAnswer<T> (a: Promise<T>, b: Promise<T>, abortA: AbortController, abortB: AbortController): Promise<T> {
  try {
    return await Promise.any([a, b])
  } catch (err) {
    throw (err as AggregateError).errors[0] as Error
  } finally {
    // The winner has settled already: only the loser hears of it.
    const lost = new HedgeLostError()
    abortA.abort(lost)
    abortB.abort(lost)
  }
}
