// Resource subscriptions of scopes: delivered to the scope that subscribed, kept across a
// failover (replica killed, drained, down then back), ended by unsubscribe and scope close.
import type { ServerNotification } from '@modelcontextprotocol/sdk/types.js'
import { afterEach, describe, expect, it } from 'vitest'
import { createClientPool, InvalidParametersError } from '../../src/index.js'
import type { ClientPool, ClientPoolInit, SubscriptionsFailedEventDetail, SubscriptionsMovedEventDetail } from '../../src/index.js'
import { nextEvent, Replica } from '../replica.js'

let pool: ClientPool | undefined
let replicas: Replica[] = []

afterEach(async () => {
  await pool?.close()
  for (const r of replicas) await r.close()
  pool = undefined
  replicas = []
})

function setup (ids: string[], init: ClientPoolInit = {}): ClientPool {
  replicas = ids.map((id) => new Replica({ id }))
  pool = createClientPool({ endpoints: replicas.map((r) => r.spec), healthCheck: false, reconnect: { initialDelayMs: 20, maxDelayMs: 100 }, ...init })
  return pool
}

function replica (id: string | undefined): Replica {
  const r = replicas.find((x) => x.id === id)
  if (r === undefined) throw new Error(`no replica ${String(id)}`)
  return r
}

/** Notifications a scope received, and a way to wait for the next one that matches. */
class Inbox {
  readonly seen: Array<{ n: ServerNotification, endpointId: string }> = []
  private waiters: Array<{ match: (n: ServerNotification, endpointId: string) => boolean, resolve: (endpointId: string) => void }> = []

  readonly handler = (n: ServerNotification, ctx: { endpointId: string }): void => {
    this.seen.push({ n, endpointId: ctx.endpointId })
    this.waiters = this.waiters.filter((w) => {
      if (!w.match(n, ctx.endpointId)) return true
      w.resolve(ctx.endpointId)
      return false
    })
  }

  updates (uri: string): number {
    return this.seen.filter((s) => s.n.method === 'notifications/resources/updated' && s.n.params.uri === uri).length
  }

  /** Resolves with the endpoint of the next notification `method` (for `uri`), or rejects after `ms`. */
  async next (method: string, uri?: string, ms = 2_000): Promise<string> {
    return await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`no ${method} within ${ms} ms`)) }, ms)
      this.waiters.push({
        match: (n) => n.method === method && (uri === undefined || (n.params as { uri?: string } | undefined)?.uri === uri),
        resolve: (id) => { clearTimeout(timer); resolve(id) },
      })
    })
  }
}

const URI = 'doc://readme'

describe('resource subscriptions', () => {
  it('an update reaches the scope that subscribed, and only it', async () => {
    const pool = setup(['a'])
    const one = new Inbox()
    const two = new Inbox()
    const s1 = pool.scope({ handlers: { notification: one.handler } })
    const s2 = pool.scope({ handlers: { notification: two.handler } })
    await s2.listResources()
    await s1.subscribeResource({ uri: URI })
    expect(s1.subscriptions).toEqual({ uris: [URI], endpoint: 'a' })
    expect(s2.subscriptions).toEqual({ uris: [], endpoint: undefined })
    expect(replicas[0]!.subscribers(URI)).toBe(1)
    const mine = [...replicas[0]!.sessions].find((s) => s.subscribed.has(URI))!

    const arrived = one.next('notifications/resources/updated', URI)
    expect(await replicas[0]!.update(URI)).toBe(1)
    expect(await arrived).toBe('a')
    // A round trip on s2's session after the update: anything sent to it would be in by now.
    await s2.listResources()
    expect(two.seen).toEqual([])

    // Subscribing twice is harmless; a second scope gets its own subscription.
    await s1.subscribeResource({ uri: URI })
    await s2.subscribeResource({ uri: URI })
    const both = Promise.all([one.next('notifications/resources/updated', URI), two.next('notifications/resources/updated', URI)])
    expect(await replicas[0]!.update(URI)).toBe(2)
    expect(await both).toEqual(['a', 'a'])
    expect(one.updates(URI)).toBe(2)
    expect(two.updates(URI)).toBe(1)

    // List changes of the scope's session reach it, and not the other scope.
    const lists = Promise.all([
      one.next('notifications/resources/list_changed'),
      one.next('notifications/tools/list_changed'),
      one.next('notifications/prompts/list_changed'),
    ])
    mine.server.sendResourceListChanged()
    mine.server.sendToolListChanged()
    mine.server.sendPromptListChanged()
    await lists
    await s2.listResources()
    expect(two.seen.filter((x) => x.n.method !== 'notifications/resources/updated')).toEqual([])
  })

  it('unsubscribe stops updates; closing a scope unsubscribes', async () => {
    const pool = setup(['a'])
    const inbox = new Inbox()
    const scope = pool.scope({ handlers: { notification: inbox.handler } })
    await scope.subscribeResource({ uri: URI })
    await scope.subscribeResource({ uri: 'doc://other' })
    expect(replicas[0]!.subscribers(URI)).toBe(1)
    await scope.unsubscribeResource({ uri: URI })
    expect(scope.subscriptions.uris).toEqual(['doc://other'])
    expect(replicas[0]!.subscribers(URI)).toBe(0)
    expect(await replicas[0]!.update(URI)).toBe(0)
    // Unsubscribing what is not subscribed is a no-op.
    await scope.unsubscribeResource({ uri: URI })

    const other = inbox.next('notifications/resources/updated', 'doc://other')
    expect(await replicas[0]!.update('doc://other')).toBe(1)
    await other
    expect(inbox.updates(URI)).toBe(0)

    await scope.close()
    // The server was told before the session closed.
    expect([...replicas[0]!.sessions].some((s) => s.subscribed.size > 0)).toBe(false)
    await expect(scope.subscribeResource({ uri: URI })).rejects.toThrow(/closed/)
  })

  it('a bad URI is a typed error', async () => {
    const pool = setup(['a'])
    const scope = pool.scope()
    await expect(scope.subscribeResource({ uri: '' })).rejects.toBeInstanceOf(InvalidParametersError)
    await expect(scope.subscribeResource({ uri: 5 } as unknown as { uri: string })).rejects.toThrow(/option uri is 5/)
  })

  it('a replica killed: the subscriptions move to another one and the scope is told to re-read', async () => {
    const pool = setup(['a', 'b', 'c'])
    const inbox = new Inbox()
    const scope = pool.scope({ handlers: { notification: inbox.handler } })
    await scope.subscribeResource({ uri: URI })
    await scope.subscribeResource({ uri: 'doc://other' })
    const holder = scope.subscriptions.endpoint!
    expect(holder).toBe(scope.endpoint)
    expect(replica(holder).subscribers(URI)).toBe(1)

    const moved = nextEvent<SubscriptionsMovedEventDetail>(pool, 'subscriptions:moved')
    const reread = inbox.next('notifications/resources/updated', URI)
    replica(holder).kill()
    const detail = await moved
    expect(detail.from).toBe(holder)
    expect(detail.to).not.toBe(holder)
    expect(detail.reason).toBe('session-lost')
    expect(detail.uris.sort()).toEqual(['doc://other', URI])
    // The failover itself tells the scope the resource may have changed.
    expect(await reread).toBe(detail.to)
    expect(scope.subscriptions.endpoint).toBe(detail.to)
    expect(scope.endpoint).toBe(detail.to)
    const now = replica(detail.to)
    expect(now.subscribers(URI)).toBe(1)
    expect(now.subscribers('doc://other')).toBe(1)
    // Updates of the new replica arrive.
    const next = inbox.next('notifications/resources/updated', 'doc://other')
    expect(await now.update('doc://other')).toBe(1)
    expect(await next).toBe(detail.to)
    // Calls of the scope follow the same endpoint.
    await scope.readResource({ uri: URI })
    expect(scope.endpoint).toBe(detail.to)
  })

  it('a drained replica: the subscriptions move and the old session is unsubscribed', async () => {
    const pool = setup(['a', 'b'])
    const inbox = new Inbox()
    const scope = pool.scope({ handlers: { notification: inbox.handler } })
    await scope.subscribeResource({ uri: URI })
    const holder = scope.subscriptions.endpoint!
    const moved = nextEvent<SubscriptionsMovedEventDetail>(pool, 'subscriptions:moved')
    await pool.drain(holder)
    const detail = await moved
    expect(detail).toMatchObject({ from: holder, reason: 'draining', uris: [URI] })
    expect(replica(detail.to).subscribers(URI)).toBe(1)
    await expect.poll(() => replica(holder).subscribers(URI)).toBe(0)
    expect(inbox.updates(URI)).toBe(1)
  })

  it('a scope that moves away from a failing replica takes its subscriptions along', async () => {
    const pool = setup(['a', 'b'], { outlierDetection: { consecutiveFailures: 1 } })
    const inbox = new Inbox()
    const scope = pool.scope({ handlers: { notification: inbox.handler } })
    await scope.subscribeResource({ uri: URI })
    const holder = scope.subscriptions.endpoint!
    const other = holder === 'a' ? 'b' : 'a'
    // The holder's session stays open, but its tools fail: it is ejected and the call retried on the other.
    replica(holder).broken = true
    const moved = nextEvent<SubscriptionsMovedEventDetail>(pool, 'subscriptions:moved')
    const r = await scope.callTool({ name: 'echo', arguments: { text: 'x' } })
    expect(r.content).toEqual([{ type: 'text', text: `${other}:x` }])
    expect(scope.endpoint).toBe(other)
    expect(await moved).toMatchObject({ from: holder, to: other, reason: 'moved', uris: [URI] })
    expect(replica(other).subscribers(URI)).toBe(1)
    await expect.poll(() => replica(holder).subscribers(URI)).toBe(0)
    expect(inbox.updates(URI)).toBe(1)
    // A further subscription joins the others on the new holder.
    await scope.subscribeResource({ uri: 'doc://other' })
    expect(replica(other).subscribers('doc://other')).toBe(1)
    expect(scope.subscriptions).toEqual({ uris: [URI, 'doc://other'], endpoint: other })
  })

  it('the only replica down, then back: re-subscribing is retried with backoff until it works', async () => {
    const pool = setup(['a'], { retry: { maxAttempts: 1 } })
    const inbox = new Inbox()
    const scope = pool.scope({ handlers: { notification: inbox.handler } })
    await scope.subscribeResource({ uri: URI })
    const failed = nextEvent<SubscriptionsFailedEventDetail>(pool, 'subscriptions:failed')
    replicas[0]!.kill()
    const f = await failed
    expect(f.from).toBe('a')
    expect(f.uris).toEqual([URI])
    expect(f.retryInMs).toBeGreaterThan(0)
    const moved = nextEvent<SubscriptionsMovedEventDetail>(pool, 'subscriptions:moved')
    replicas[0]!.down = false
    const detail = await moved
    expect(detail).toMatchObject({ from: 'a', to: 'a', reason: 'session-lost' })
    expect(replicas[0]!.subscribers(URI)).toBe(1)
    expect(inbox.updates(URI)).toBe(1)
  })
})
