import { DEFAULT_SUBSCRIBER_BUFFER, MAX_QUERY_LIMIT } from './constants.js'
import { EventsForbiddenError, InvalidSubscriptionError } from './errors.js'
import { eventOfBlock, parentsOf, type Delivery, type EventBus } from './event-bus.js'
import type { EventLog, LogRecord } from './event-log.js'
import type { MeshEvent } from './event-format.js'
import { compileFilter, compileTopics, type EventFilter, type TopicMatcher } from './topics.js'

/**
 * Where a subscription starts: after a log offset (the SSE `Last-Event-ID`), after an event id,
 * at a time, after a vector clock (events a source sequenced past it), the oldest retained
 * event, or now.
 */
export type ReplayFrom =
  | { after: number }
  | { afterEventId: string }
  | { time: number }
  | { clock: Record<string, number> }
  | 'earliest'
  | 'now'

export interface SubscribeOptions {
  /** Topic patterns (`mesh.peer.*`, `workflow.#`). */
  topics: readonly string[]
  /** A filter expression (see topics.ts); empty: every event. */
  filter?: string
  /** @default 'now' */
  from?: ReplayFrom
  /** Who subscribes; the policy decides per event type (`events:<type>`). */
  principal: string
  /** Events buffered before the subscription is cut off. @default 10_000 */
  buffer?: number
}

/** Whether `principal` may see events of `eventType`. */
export type Authorize = (principal: string, eventType: string) => { allowed: boolean, reason: string }

/** A running subscription; `closed` resolves with why it ended. */
export interface Subscription {
  readonly closed: Promise<string>
  close: () => void
}

interface Selector {
  topics: TopicMatcher
  filter: EventFilter
  allowed: (type: string) => boolean
}

/**
 * Subscriptions over the bus and the log: a replay from the log followed, with no gap and no
 * repeat, by live events (each delivered once, by log offset; the log holds each event id
 * once). Deliveries to one subscriber are sequential, so per-source and causal order of the
 * log is kept.
 */
export class EventHub {
  readonly #bus: EventBus
  readonly #log: EventLog
  readonly #authorize: Authorize

  constructor (bus: EventBus, log: EventLog, authorize: Authorize) {
    this.#bus = bus
    this.#log = log
    this.#authorize = authorize
  }

  #selector (o: { topics: readonly string[], filter?: string, principal: string }): Selector {
    if (o.topics.length === 0) throw new InvalidSubscriptionError('topics', '', 'give at least one topic pattern, e.g. "#" for every event')
    const cache = new Map<string, boolean>()
    return {
      topics: compileTopics(o.topics),
      filter: compileFilter(o.filter ?? ''),
      allowed: (type) => {
        let ok = cache.get(type)
        if (ok === undefined) {
          ok = this.#authorize(o.principal, `events:${type}`).allowed
          if (cache.size < 1024) cache.set(type, ok)
        }
        return ok
      },
    }
  }

  /** Refuses a subscription the policy denies outright (`mesh__subscribe_events`). */
  assertMaySubscribe (principal: string): void {
    const d = this.#authorize(principal, 'mesh__subscribe_events')
    if (!d.allowed) throw new EventsForbiddenError(principal, 'subscribe to events', d.reason)
  }

  async #start (from: ReplayFrom | undefined, liveFrom = this.#log.nextOffset): Promise<{ after: number, clock?: Record<string, number> }> {
    // 'now' is where the log ended when the subscription began listening, not when this runs.
    if (from === undefined || from === 'now') return { after: liveFrom - 1 }
    if (from === 'earliest') return { after: 0 }
    if ('after' in from) return { after: from.after }
    if ('afterEventId' in from) {
      const off = this.#log.offsetOf(from.afterEventId)
      if (off === undefined) throw new InvalidSubscriptionError('afterEventId', from.afterEventId, 'not in this peer\'s log (unknown or past retention); resume from a time instead')
      return { after: off }
    }
    if ('time' in from) return { after: (await this.#log.offsetAt(from.time)) - 1 }
    return { after: 0, clock: from.clock }
  }

  /** Starts a subscription; `deliver` is awaited before the next event. */
  subscribe (o: SubscribeOptions, deliver: (d: Delivery) => Promise<void> | void): Subscription {
    this.assertMaySubscribe(o.principal)
    const sel = this.#selector(o)
    const max = o.buffer ?? DEFAULT_SUBSCRIBER_BUFFER
    const queue: Delivery[] = []
    let wake: (() => void) | undefined
    let closed = false
    let resolveClosed!: (why: string) => void
    const closedP = new Promise<string>((resolve) => { resolveClosed = resolve })
    const end = (why: string): void => {
      if (closed) return
      closed = true
      this.#bus.removeEventListener('event', onLive)
      wake?.()
      resolveClosed(why)
    }
    const onLive = (e: CustomEvent<Delivery>): void => {
      if (!matches(sel, e.detail.event)) return
      if (queue.length >= max) { end(`overflow: over ${max} events undelivered; resume from the last delivered id`); return }
      queue.push(e.detail)
      wake?.()
    }
    // Listen before reading where the log ends, so no event falls between replay and live.
    this.#bus.addEventListener('event', onLive)
    const liveFrom = this.#log.nextOffset
    const run = async (): Promise<void> => {
      const start = await this.#start(o.from, liveFrom)
      let last = start.after
      for await (const r of this.#log.read(start.after + 1)) {
        if (closed) return
        if (r.offset >= liveFrom) break
        const d = decoded(r)
        if (d === undefined || !matches(sel, d.event) || (start.clock !== undefined && d.event.sequence_number <= (start.clock[d.event.source] ?? 0))) continue
        await deliver(d)
        last = r.offset
      }
      while (!closed) {
        const d = queue.shift()
        if (d === undefined) {
          await new Promise<void>((resolve) => { wake = resolve })
          wake = undefined
          continue
        }
        if (d.offset <= last) continue
        if (start.clock !== undefined && d.event.sequence_number <= (start.clock[d.event.source] ?? 0)) continue
        await deliver(d)
        last = d.offset
      }
    }
    run().then(() => { end('closed') }, (err: Error) => { end(`failed: ${err.message}`) })
    return { closed: closedP, close: () => { end('closed') } }
  }

  /** Events of the log matching `topics` and `filter`, from `from`, at most `limit`. */
  async query (o: { topics: readonly string[], filter?: string, from?: ReplayFrom, limit?: number, principal: string }): Promise<Delivery[]> {
    this.assertMaySubscribe(o.principal)
    const sel = this.#selector(o)
    const limit = Math.min(Math.max(1, o.limit ?? 100), MAX_QUERY_LIMIT)
    const start = await this.#start(o.from ?? 'earliest')
    const out: Delivery[] = []
    for await (const r of this.#log.read(start.after + 1)) {
      const d = decoded(r)
      if (d === undefined || !matches(sel, d.event)) continue
      if (start.clock !== undefined && d.event.sequence_number <= (start.clock[d.event.source] ?? 0)) continue
      out.push(d)
      if (out.length >= limit) break
    }
    return out
  }
}

function matches (sel: Selector, event: MeshEvent): boolean {
  return sel.topics(event.event_type) && sel.allowed(event.event_type) && sel.filter(event)
}

function decoded (r: LogRecord): Delivery | undefined {
  try {
    return { offset: r.offset, cid: r.cid, parents: parentsOf(r.block), event: eventOfBlock(r.block) }
  } catch {
    return undefined
  }
}
