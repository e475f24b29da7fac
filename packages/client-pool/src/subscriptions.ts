import type { ExponentialBackoff } from 'cockatiel'
import { checkUri, subscriptionOp } from './call-api.js'
import type { Operation } from './call-api.js'
import * as C from './constants.js'
import type { Endpoint } from './endpoint.js'
import { PoolClosedError } from './errors.js'
import type { ScopeCore } from './scope.js'
import { describe } from './session.js'
import type { CallOptions, Emit, Logger, SubscribeOptions, SubscriptionsMovedEventDetail } from './types.js'

const noop = (): void => {}

/** What resource subscriptions need from the pool. */
export interface SubscriptionsContext {
  /** Runs an operation through the call path of `scope`, away from `avoid` when possible. */
  run: <T>(scope: ScopeCore, op: Operation<T>, options: CallOptions | undefined, avoid?: Endpoint) => Promise<T>
  endpoint: (id: string) => Endpoint | undefined
  closing: () => boolean
  logger: Logger
  emit: Emit
  requestTimeoutMs: number
  moveBackoff: ExponentialBackoff<unknown>
}

/**
 * The resource subscriptions of each scope: held on its sticky session, moved with it to
 * another replica, restored with backoff when its session is lost (docs/decisions/0036).
 */
export class Subscriptions {
  private readonly ctx: SubscriptionsContext

  constructor (ctx: SubscriptionsContext) {
    this.ctx = ctx
  }

  /** Runs subscription work of a scope one task at a time. */
  private async serial<T> (scope: ScopeCore, task: () => Promise<T>): Promise<T> {
    const next = scope.subsQueue.then(task, task)
    scope.subsQueue = next.catch(noop)
    return await next
  }

  /** The endpoint holding the scope's subscriptions, if its session is open and it can take calls. */
  private subscriptionHolder (scope: ScopeCore): string | undefined {
    const id = scope.subsEndpoint
    if (id === undefined || scope.subscriptions.size === 0) return undefined
    const ep = this.ctx.endpoint(id)
    if (ep === undefined || ep.unavailable(false) !== undefined) return undefined
    return scope.sessions.get(id)?.client === undefined ? undefined : id
  }

  async subscribe (scope: ScopeCore, params: { uri: string }, options: SubscribeOptions | undefined): Promise<Record<string, unknown>> {
    const uri = checkUri(params)
    if (this.ctx.closing()) throw new PoolClosedError()
    if (scope.closed) throw new PoolClosedError('pool scope')
    return await this.serial(scope, async () => {
      const holder = this.subscriptionHolder(scope)
      const call = { signal: options?.signal, timeoutMs: options?.timeoutMs }
      if (holder !== undefined) {
        const result = await this.ctx.run(scope, subscriptionOp('resources/subscribe', uri), { ...call, endpoint: holder })
        scope.subscriptions.add(uri)
        return result
      }
      // No live session holds the scope's subscriptions (the first one, or it was lost):
      // place this one as a call would go, and bring the others along.
      let to = ''
      const result = await this.ctx.run(scope, subscriptionOp('resources/subscribe', uri, (id) => { to = id }), call)
      const from = scope.subsEndpoint
      const others = [...scope.subscriptions].filter((u) => u !== uri)
      scope.subscriptions.add(uri)
      if (others.length === 0) {
        scope.subsEndpoint = to
        return result
      }
      const old = from === undefined ? undefined : this.ctx.endpoint(from)
      const reason = old === undefined || scope.sessions.get(old.id)?.client === undefined ? 'session-lost' : old.draining ? 'draining' : 'moved'
      try {
        await this.moveTo(scope, to, others, from, reason, [])
      } catch (err) {
        // This URI is subscribed; the others are re-placed in the background.
        this.ctx.logger.debug('moving subscriptions to %s failed: %s', to, describe(err))
        scope.subsEndpoint = to
        this.queueMove(scope, reason)
      }
      return result
    })
  }

  async unsubscribe (scope: ScopeCore, params: { uri: string }, options: SubscribeOptions | undefined): Promise<Record<string, unknown>> {
    const uri = checkUri(params)
    return await this.serial(scope, async () => {
      if (!scope.subscriptions.delete(uri)) return {}
      const holder = scope.subsEndpoint
      if (scope.subscriptions.size === 0) scope.subsEndpoint = undefined
      if (holder === undefined || scope.closed || scope.sessions.get(holder)?.client === undefined) return {}
      return await this.ctx.run(scope, subscriptionOp('resources/unsubscribe', uri), { signal: options?.signal, timeoutMs: options?.timeoutMs, endpoint: holder })
    })
  }

  /** Moves a scope's subscriptions to another endpoint soon (once, however often asked). */
  queueMove (scope: ScopeCore, reason: SubscriptionsMovedEventDetail['reason']): void {
    if (scope.movePending || scope.closed) return
    scope.movePending = true
    if (scope.moveTimer !== undefined) clearTimeout(scope.moveTimer)
    scope.moveTimer = undefined
    void this.serial(scope, async () => {
      scope.movePending = false
      await this.move(scope, reason)
    })
  }

  private async move (scope: ScopeCore, reason: SubscriptionsMovedEventDetail['reason']): Promise<void> {
    if (scope.closed || this.ctx.closing()) return
    const uris = [...scope.subscriptions]
    const from = scope.subsEndpoint
    if (uris.length === 0) {
      scope.subsEndpoint = undefined
      return
    }
    const [first, ...rest] = uris as [string, ...string[]]
    try {
      let to = ''
      // Placed as a call of the scope would be (its sticky endpoint first), away from the old holder if possible.
      await this.ctx.run(scope, subscriptionOp('resources/subscribe', first, (id) => { to = id }), undefined,
        from === undefined ? undefined : this.ctx.endpoint(from))
      await this.moveTo(scope, to, rest, from, reason, [first])
      scope.moveBackoff = undefined
    } catch (err) {
      if (scope.closed || this.ctx.closing()) return
      scope.moveBackoff = scope.moveBackoff === undefined ? this.ctx.moveBackoff.next() : scope.moveBackoff.next(undefined)
      const retryInMs = scope.moveBackoff.duration
      this.ctx.logger.warn('re-subscribing %d resources failed: %s; next attempt in %d ms', uris.length, describe(err), retryInMs)
      this.ctx.emit('subscriptions:failed', { from, uris, error: err, retryInMs })
      scope.moveTimer = setTimeout(() => {
        scope.moveTimer = undefined
        this.queueMove(scope, reason)
      }, retryInMs)
      scope.moveTimer.unref?.()
    }
  }

  /**
   * Subscribes `rest` on `to` (where `done` already are), makes `to` the holder, lets the
   * old holder go, and tells the scope every moved URI was updated.
   */
  private async moveTo (scope: ScopeCore, to: string, rest: string[], from: string | undefined,
    reason: SubscriptionsMovedEventDetail['reason'], done: string[] = []): Promise<void> {
    await Promise.all(rest.map(async (uri) => {
      await this.ctx.run(scope, subscriptionOp('resources/subscribe', uri), { endpoint: to })
    }))
    scope.subsEndpoint = to
    const uris = [...done, ...rest]
    // Best effort: the old session may still be open (draining, or the scope moved away from it).
    if (from !== undefined && from !== to) void this.unsubscribeOn(scope, from, uris, this.ctx.requestTimeoutMs)
    this.ctx.emit('subscriptions:moved', { from, to, uris, reason })
    const notify = scope.handlers.notification
    const session = scope.sessions.get(to)
    if (notify === undefined || session === undefined) return
    const context = { endpointId: to, signal: session.signal }
    for (const uri of uris) {
      // The resource may have changed while no session was subscribed: the client should read it again.
      void (async () => { await notify({ method: 'notifications/resources/updated', params: { uri } }, context) })()
        .catch((err: unknown) => { this.ctx.logger.warn('notification handler failed: %s', describe(err)) })
    }
  }

  /** Unsubscribes `uris` on the scope's open session to `endpointId`, if any, ignoring failures. */
  private async unsubscribeOn (scope: ScopeCore, endpointId: string, uris: readonly string[], timeoutMs: number): Promise<void> {
    const client = scope.sessions.get(endpointId)?.client
    if (client === undefined) return
    await Promise.allSettled(uris.map(async (uri) => { await client.unsubscribeResource({ uri }, { timeout: timeoutMs }) }))
  }

  /** On scope close: ends its subscriptions on the holder (closing the session ends them too, but not at once on every transport). */
  async unsubscribeAll (scope: ScopeCore): Promise<void> {
    const holder = scope.subsEndpoint
    const uris = [...scope.subscriptions]
    scope.subscriptions.clear()
    scope.subsEndpoint = undefined
    if (scope.moveTimer !== undefined) clearTimeout(scope.moveTimer)
    scope.moveTimer = undefined
    if (holder !== undefined && uris.length > 0) await this.unsubscribeOn(scope, holder, uris, C.UNSUBSCRIBE_ON_CLOSE_TIMEOUT_MS)
  }
}
