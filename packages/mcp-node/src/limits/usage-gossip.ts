import type { GossipSub, Message } from '@libp2p/gossipsub'
import type { Logger } from '../logger.js'
import type { CallLimiter, SharedUsage } from './limiter.js'

/** The gossipsub topic of limit usage (decision 0181). */
export const LIMITS_TOPIC = 'p2p-mcp/limits/1'
/** Largest usage message accepted or sent. */
export const MAX_USAGE_MESSAGE_BYTES = 256 * 1024
/** Most entries in one usage message (the busiest are sent when a peer has more). */
export const MAX_USAGE_ENTRIES = 4096

/** A usage message that is not one: names what was wrong. */
export class InvalidUsageMessageError extends Error {
  override readonly name = 'InvalidUsageMessageError'
  readonly code = 'ERR_MCP_NODE_INVALID_USAGE_MESSAGE'
}

const HASH = /^[0-9a-f]{32}$/

/** `{ "v": 1, "u": [[keyHash, demand, inFlight], …] }` as UTF-8 JSON. */
export function encodeUsage (usage: readonly SharedUsage[]): Uint8Array {
  const sorted = usage.length <= MAX_USAGE_ENTRIES ? usage : [...usage].sort((a, b) => b[1] - a[1]).slice(0, MAX_USAGE_ENTRIES)
  return new TextEncoder().encode(JSON.stringify({ v: 1, u: sorted }))
}

/** Decodes a usage message; throws `InvalidUsageMessageError` naming the first problem. */
export function decodeUsage (bytes: Uint8Array): SharedUsage[] {
  if (bytes.byteLength > MAX_USAGE_MESSAGE_BYTES) throw new InvalidUsageMessageError(`usage message of ${bytes.byteLength} bytes exceeds ${MAX_USAGE_MESSAGE_BYTES}`)
  let value: unknown
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch (err) {
    throw new InvalidUsageMessageError('usage message is not UTF-8 JSON', { cause: err })
  }
  const o = value as { v?: unknown, u?: unknown }
  if (typeof value !== 'object' || value === null || o.v !== 1) throw new InvalidUsageMessageError(`usage message version ${JSON.stringify(o?.v)} is not 1`)
  if (!Array.isArray(o.u) || o.u.length > MAX_USAGE_ENTRIES) throw new InvalidUsageMessageError(`"u" is not an array of at most ${MAX_USAGE_ENTRIES} entries`)
  return o.u.map((e: unknown, i) => {
    if (!Array.isArray(e) || e.length !== 3) throw new InvalidUsageMessageError(`u.${i} is not [keyHash, demand, inFlight]`)
    const [hash, demand, inFlight] = e as unknown[]
    if (typeof hash !== 'string' || !HASH.test(hash)) throw new InvalidUsageMessageError(`u.${i}.0 is not a 32-hex-digit key hash`)
    if (typeof demand !== 'number' || !Number.isFinite(demand) || demand < 0 || demand > 1e12) throw new InvalidUsageMessageError(`u.${i}.1 is not a demand (a number from 0 to 1e12)`)
    if (!Number.isSafeInteger(inFlight) || (inFlight as number) < 0 || (inFlight as number) > 1e9) throw new InvalidUsageMessageError(`u.${i}.2 is not a count of calls in flight`)
    return [hash, demand, inFlight as number]
  })
}

/**
 * Shares this peer's usage of mesh-wide limits over gossipsub: every `intervalMs` it publishes
 * its decayed demand and calls in flight per shared key (nothing when it has none, after one
 * empty message that clears its previous report), and feeds other peers' reports to the limiter.
 */
export class UsageGossip {
  private readonly pubsub: GossipSub
  private readonly limiter: CallLimiter
  private readonly intervalMs: number
  private readonly log: Logger
  private timer: NodeJS.Timeout | undefined
  private sentSomething = false
  /** Messages received and refused, for the metrics. */
  readonly stats = { sent: 0, received: 0, rejected: 0 }

  constructor (init: { pubsub: GossipSub, limiter: CallLimiter, intervalMs: number, logger: Logger }) {
    this.pubsub = init.pubsub
    this.limiter = init.limiter
    this.intervalMs = init.intervalMs
    this.log = init.logger
  }

  private readonly onMessage = (e: CustomEvent<Message>): void => {
    const m = e.detail
    if (m.topic !== LIMITS_TOPIC || m.type !== 'signed') return
    try {
      this.limiter.observe(m.from.toString(), decodeUsage(m.data))
      this.stats.received++
    } catch (err) {
      this.stats.rejected++
      this.log.debug('limit usage from %s refused: %s', m.from.toString(), (err as Error).message)
    }
  }

  start (): void {
    if (this.timer !== undefined) return
    this.pubsub.addEventListener('message', this.onMessage)
    this.pubsub.subscribe(LIMITS_TOPIC)
    this.timer = setInterval(() => { this.publish() }, this.intervalMs)
    this.timer.unref()
  }

  /** Publishes this peer's usage now (the timer calls it). */
  publish (): void {
    const usage = this.limiter.shared()
    if (usage.length === 0 && !this.sentSomething) return
    this.sentSomething = usage.length > 0
    this.stats.sent++
    this.pubsub.publish(LIMITS_TOPIC, encodeUsage(usage)).catch((err: Error) => {
      this.log.debug('limit usage not gossiped: %s', err.message)
    })
  }

  stop (): void {
    if (this.timer === undefined) return
    clearInterval(this.timer)
    this.timer = undefined
    this.pubsub.removeEventListener('message', this.onMessage)
    try { this.pubsub.unsubscribe(LIMITS_TOPIC) } catch { /* pubsub already stopped */ }
  }
}
