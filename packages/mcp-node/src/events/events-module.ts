import { join } from 'node:path'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import type { BuiltinTool, NodeComponents, NodeModule, NodeModuleFactory } from '../module.js'
import { childOf } from '../logger.js'
import type { EventsConfig } from './config-schema.js'
import { MAX_QUERY_LIMIT } from './constants.js'
import { InvalidSubscriptionError, PublishRateLimitedError } from './errors.js'
import { EventBus, type Delivery, type EventBusStats } from './event-bus.js'
import type { EventInput } from './event-format.js'
import { EventLog } from './event-log.js'
import { EventHub, type Authorize, type ReplayFrom, type SubscribeOptions, type Subscription } from './hub.js'
import { MeshProducers } from './producers.js'
import { SseServer } from './sse-server.js'
import { Webhook, type WebhookStats } from './webhooks.js'
import { errorMessage } from '../errors.js'

/** What the rest of the process (and `McpNode.events`) can do with the mesh's events. */
export interface MeshEvents {
  /** Signs, logs and gossips an event from this peer. */
  publish: (input: EventInput) => Promise<Delivery>
  /** A subscription: replay from `from`, then live; `deliver` is awaited between events. */
  subscribe: (options: SubscribeOptions, deliver: (d: Delivery) => Promise<void> | void) => Subscription
  /** Events of this peer's log. */
  query: (options: { topics: readonly string[], filter?: string, from?: ReplayFrom, limit?: number, principal: string }) => Promise<Delivery[]>
  /** Reconciles every partition with `peerId` now (anti-entropy). */
  syncWith: (peerId: string) => Promise<void>
  stats: () => MeshEventsStats
  /** The SSE endpoint, when `events.http.enabled`. */
  readonly sseUrl: URL | undefined
}

export interface MeshEventsStats extends EventBusStats {
  log: { firstOffset: number, nextOffset: number, stopped: string | undefined }
  heads: string[][]
  webhooks: Record<string, WebhookStats>
}

export interface EventsModuleInit {
  config: EventsConfig
  dataDir: string | undefined
  authorize: Authorize
  /** Receives the module's API once it started (McpNode keeps it as `node.events`). */
  onReady?: (api: MeshEvents | undefined) => void
}

class TokenBuckets {
  readonly #buckets = new Map<string, { tokens: number, at: number }>()
  readonly rate: number
  readonly burst: number

  constructor (rate: number, burst: number) {
    this.rate = rate
    this.burst = burst
  }

  take (key: string, now = Date.now()): boolean {
    let b = this.#buckets.get(key)
    if (b === undefined) {
      if (this.#buckets.size >= 10_000) this.#buckets.delete(this.#buckets.keys().next().value!)
      b = { tokens: this.burst, at: now }
      this.#buckets.set(key, b)
    }
    b.tokens = Math.min(this.burst, b.tokens + (now - b.at) * this.rate / 1000)
    b.at = now
    if (b.tokens < 1) return false
    b.tokens -= 1
    return true
  }
}

const text = (value: unknown): CallToolResult => ({ content: [{ type: 'text', text: JSON.stringify(value) }], structuredContent: value as Record<string, unknown> })
const failure = (err: Error): CallToolResult => ({ isError: true, content: [{ type: 'text', text: `${err.name}: ${err.message}` }] })

function replayArg (from: unknown): ReplayFrom | undefined {
  if (from === undefined || from === null) return undefined
  if (typeof from === 'number') return { after: from }
  if (typeof from !== 'string') throw new InvalidSubscriptionError('from', JSON.stringify(from), 'a log offset, an event id, an ISO time, "earliest" or "now"')
  if (from === 'earliest' || from === 'now') return from
  if (/^\d+$/.test(from)) return { after: Number(from) }
  if (from.startsWith('evt-')) return { afterEventId: from }
  const t = Date.parse(from)
  if (Number.isNaN(t)) throw new InvalidSubscriptionError('from', from, 'a log offset, an event id, an ISO time, "earliest" or "now"')
  return { time: t }
}

/**
 * The events module (issue 20): the mesh's event stream at this peer. See event-bus.ts for
 * the transport, event-log.ts for the log, hub.ts for subscriptions, webhooks.ts and
 * sse-server.ts for delivery, producers.ts for the mesh's own events.
 */
export function events (init: EventsModuleInit): NodeModuleFactory {
  return (c: NodeComponents): NodeModule => {
    const cfg = init.config
    if (!cfg.enabled) return { name: 'events' }
    const logger = childOf(c.logger, { component: 'events' })
    const dir = init.dataDir === undefined ? undefined : join(init.dataDir, 'events')
    const log = new EventLog({ ...(dir === undefined ? {} : { dir: join(dir, 'log') }), retentionMs: cfg.retentionMs, retentionBytes: cfg.retentionBytes, segmentBytes: cfg.segmentBytes, logger })
    const bus = new EventBus({ libp2p: c.libp2p, sign: c.sign, log, logger, partitions: cfg.partitions, antiEntropyIntervalMs: cfg.antiEntropyIntervalMs, maxEventBytes: cfg.maxEventBytes })
    const hub = new EventHub(bus, log, init.authorize)
    const producers = new MeshProducers(c, async (input) => { await bus.publish(input).then(() => {}, (err: Error) => { logger.warn({ err: err.message, type: input.event_type }, 'mesh event not published') }) })
    const buckets = new TokenBuckets(cfg.publishRatePerS, cfg.publishBurst)
    const webhooks = new Map<string, Webhook>()
    const webhookErrors: string[] = []
    let sse: SseServer | undefined
    let pruneTimer: ReturnType<typeof setInterval> | undefined

    const api: MeshEvents = {
      publish: async (input) => bus.publish(input),
      subscribe: (o, deliver) => hub.subscribe(o, deliver),
      query: async (o) => hub.query(o),
      syncWith: async (peerId) => {
        const peer = c.libp2p.getPeers().find((p) => p.toString() === peerId)
        if (peer !== undefined) await bus.syncWith(peer)
      },
      stats: () => ({
        ...bus.stats,
        log: { firstOffset: log.firstOffset, nextOffset: log.nextOffset, stopped: log.stopped?.message },
        heads: bus.heads(),
        webhooks: Object.fromEntries([...webhooks].map(([id, w]) => [id, { ...w.stats }])),
      }),
      get sseUrl () { return sse?.url },
    }

    const tools: BuiltinTool[] = [{
      tool: {
        name: 'mesh__publish_event',
        description: 'Publish an event to the mesh event stream (signed by this peer; rate-limited per caller). event_type is a dotted topic such as app.order.created; mesh.* is reserved for the peers.',
        inputSchema: {
          type: 'object',
          properties: {
            event_type: { type: 'string' }, event_data: {}, correlation_id: { type: 'string' },
            priority: { type: 'string', enum: ['low', 'normal', 'high', 'critical'] },
          },
          required: ['event_type'],
        },
      },
      call: async (args, ctx) => {
        try {
          if (!buckets.take(ctx.principal)) throw new PublishRateLimitedError(ctx.principal, cfg.publishRatePerS)
          const type = String(args.event_type)
          if (type === 'mesh' || type.startsWith('mesh.')) throw new InvalidSubscriptionError('event_type', type, 'mesh.* is reserved for events of the peers themselves; use your own prefix')
          const d = await bus.publish({
            event_type: type, event_data: args.event_data ?? null,
            ...(typeof args.correlation_id === 'string' ? { correlation_id: args.correlation_id } : {}),
            processing_hints: { priority: (args.priority as 'normal' | undefined) ?? 'normal', delivery_guarantee: 'at_least_once' },
            event_version: '1.0.0',
          })
          return text({ event_id: d.event.event_id, offset: d.offset, cid: d.cid })
        } catch (err) {
          return failure(err as Error)
        }
      },
    }, {
      tool: {
        name: 'mesh__query_events',
        description: 'Read events from this peer\'s event log: topics (patterns, * one segment, # any), a filter expression (e.g. event_data.server == "calc" and source != "x"), from (log offset, event id, ISO time, "earliest"), limit.',
        inputSchema: {
          type: 'object',
          properties: {
            topics: { type: 'array', items: { type: 'string' } }, filter: { type: 'string' },
            from: { type: ['string', 'number'] }, limit: { type: 'integer', minimum: 1, maximum: MAX_QUERY_LIMIT },
          },
        },
      },
      call: async (args, ctx) => {
        try {
          const topics = Array.isArray(args.topics) ? args.topics.map(String) : typeof args.topics === 'string' ? [args.topics] : ['#']
          const from = replayArg(args.from)
          const found = await hub.query({
            topics, principal: ctx.principal,
            ...(typeof args.filter === 'string' ? { filter: args.filter } : {}),
            ...(from === undefined ? {} : { from }),
            ...(typeof args.limit === 'number' ? { limit: args.limit } : {}),
          })
          return text({ events: found.map((d) => ({ offset: d.offset, cid: d.cid, ...d.event })) })
        } catch (err) {
          return failure(err as Error)
        }
      },
    }]

    return {
      name: 'events',
      tools,
      resources: [{
        resource: { uri: 'mesh://events', name: 'events', description: 'This peer\'s event stream: counters, log bounds, DAG heads, webhooks', mimeType: 'application/json' },
        read: () => ({ contents: [{ uri: 'mesh://events', mimeType: 'application/json', text: JSON.stringify({ ...api.stats(), sse: api.sseUrl?.href }, null, 2) }] }),
      }],
      start: async () => {
        await bus.start()
        pruneTimer = setInterval(() => { void log.prune() }, 60_000)
        pruneTimer.unref()
        for (const w of cfg.webhooks) {
          try {
            const hook = new Webhook({
              config: w, allow: cfg.webhookAllow, hub, dir: dir === undefined ? undefined : join(dir, 'webhooks'), attempts: cfg.webhookAttempts,
              retryBaseMs: cfg.webhookRetryBaseMs, retryMaxMs: cfg.webhookRetryMaxMs, timeoutMs: cfg.webhookTimeoutMs, logger,
            })
            await hook.start()
            webhooks.set(w.id, hook)
          } catch (err) {
            // A bad webhook is the operator's to fix; the peer runs on and reports it in its health.
            webhookErrors.push(`webhook ${w.id}: ${errorMessage(err)}`)
            logger.error({ webhook: w.id, err: errorMessage(err) }, 'webhook not started')
          }
        }
        if (cfg.http.enabled) {
          sse = new SseServer({ hub, host: cfg.http.host, port: cfg.http.port, tokens: cfg.http.tokens, logger })
          await sse.start()
        }
        producers.start(cfg.callSummaryIntervalMs)
        init.onReady?.(api)
      },
      stop: async () => {
        await producers.stop()
        clearInterval(pruneTimer)
        for (const w of webhooks.values()) w.stop()
        await sse?.stop()
        await bus.stop()
        await log.close()
        init.onReady?.(undefined)
      },
      healthReasons: () => [
        ...(log.stopped === undefined ? [] : [log.stopped.message]),
        ...webhookErrors,
      ],
    }
  }
}
