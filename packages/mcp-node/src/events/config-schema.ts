import { z } from 'zod'
import {
  DEFAULT_ANTI_ENTROPY_INTERVAL_MS, DEFAULT_CALL_SUMMARY_INTERVAL_MS, DEFAULT_MAX_EVENT_BYTES, DEFAULT_PARTITIONS, DEFAULT_PUBLISH_BURST,
  DEFAULT_PUBLISH_RATE_PER_S, DEFAULT_RETENTION_BYTES, DEFAULT_RETENTION_MS, DEFAULT_SEGMENT_BYTES, DEFAULT_WEBHOOK_ATTEMPTS,
  DEFAULT_WEBHOOK_RETRY_BASE_MS, DEFAULT_WEBHOOK_RETRY_MAX_MS, DEFAULT_WEBHOOK_TIMEOUT_MS,
} from './constants.js'

const ms = z.number().int().min(1).max(30 * 86_400_000)

/** One webhook: events of `topics` passing `filter` are POSTed to `url`, signed with `secret`. */
export const WebhookConfigSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, '1 to 64 letters, digits, _ or -'),
  url: z.url({ protocol: /^https?$/ }),
  topics: z.array(z.string().min(1)).min(1),
  filter: z.string().max(1024).optional(),
  /** HMAC-SHA256 key (at least 16 characters). */
  secret: z.string().min(16),
  /** Principal the policy checks the events against. @default webhook:<id> */
  principal: z.string().min(1).optional(),
})

/** The `events` section of a peer's config. */
export const EventsConfigSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** Topic partitions, one Merkle-clock DAG each; every peer of a mesh must use the same number. */
  partitions: z.number().int().min(1).max(64).default(DEFAULT_PARTITIONS),
  maxEventBytes: z.number().int().min(1024).max(1024 * 1024).default(DEFAULT_MAX_EVENT_BYTES),
  antiEntropyIntervalMs: ms.default(DEFAULT_ANTI_ENTROPY_INTERVAL_MS),
  retentionMs: ms.default(DEFAULT_RETENTION_MS),
  retentionBytes: z.number().int().min(1024).default(DEFAULT_RETENTION_BYTES),
  segmentBytes: z.number().int().min(1024).default(DEFAULT_SEGMENT_BYTES),
  /** `mesh__publish_event` per principal. */
  publishRatePerS: z.number().min(0.01).max(100_000).default(DEFAULT_PUBLISH_RATE_PER_S),
  publishBurst: z.number().int().min(1).max(100_000).default(DEFAULT_PUBLISH_BURST),
  /** Calls are summarised per tool every this often (0 turns call events off). */
  callSummaryIntervalMs: z.number().int().min(0).max(86_400_000).default(DEFAULT_CALL_SUMMARY_INTERVAL_MS),
  /** The SSE / WebSocket listener of the events (its own port; see decision 0141). */
  http: z.strictObject({
    enabled: z.boolean().default(false),
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(0),
    /** Bearer token → principal; without any, every client is principal `anonymous` (loopback only). */
    tokens: z.record(z.string().min(16), z.string().min(1)).default({}),
  }).default({ enabled: false, host: '127.0.0.1', port: 0, tokens: {} }),
  webhooks: z.array(WebhookConfigSchema).default([]),
  /** Origins webhooks may target (`http://127.0.0.1:8080`, `https://hooks.example.com`, port `*` allowed). */
  webhookAllow: z.array(z.string().min(1)).default([]),
  webhookAttempts: z.number().int().min(1).max(20).default(DEFAULT_WEBHOOK_ATTEMPTS),
  webhookRetryBaseMs: ms.default(DEFAULT_WEBHOOK_RETRY_BASE_MS),
  webhookRetryMaxMs: ms.default(DEFAULT_WEBHOOK_RETRY_MAX_MS),
  webhookTimeoutMs: ms.default(DEFAULT_WEBHOOK_TIMEOUT_MS),
})

export type EventsConfig = z.output<typeof EventsConfigSchema>
export type WebhookConfig = z.output<typeof WebhookConfigSchema>

export const DEFAULT_EVENTS_CONFIG: EventsConfig = EventsConfigSchema.parse({})
