/** An event could not be decoded or failed its checks (size, schema, signature); `code` crosses the wire. */
export class InvalidMeshEventError extends Error {
  override name = 'InvalidMeshEventError'
  readonly code = 'ERR_INVALID_MESH_EVENT'

  constructor (reason: string, options?: ErrorOptions) {
    super(`invalid mesh event: ${reason}`, options)
  }
}

/** An encoded event is over the size limit. */
export class EventTooLargeError extends Error {
  override name = 'EventTooLargeError'
  readonly code = 'ERR_EVENT_TOO_LARGE'

  constructor (bytes: number, max: number) {
    super(`event of ${bytes} bytes exceeds maxEventBytes ${max} (keep event_data small, or raise events.maxEventBytes on every peer)`)
  }
}

/** A topic pattern or filter expression is malformed. */
export class InvalidSubscriptionError extends Error {
  override name = 'InvalidSubscriptionError'
  readonly code = 'ERR_INVALID_SUBSCRIPTION'

  constructor (what: string, value: string, reason: string) {
    super(`invalid ${what} ${JSON.stringify(value.slice(0, 200))}: ${reason}`)
  }
}

/** The durable log hit a write error (a full disk, say) and stopped; live delivery goes on. */
export class EventLogStoppedError extends Error {
  override name = 'EventLogStoppedError'
  readonly code = 'ERR_EVENT_LOG_STOPPED'

  constructor (dir: string, options?: ErrorOptions) {
    const cause = options?.cause instanceof Error ? options.cause.message : String(options?.cause)
    super(`the event log in ${dir} stopped after a write error (${cause}); free space and restart the peer to resume logging`, options)
  }
}

/** `mesh__publish_event` was called faster than the principal's rate. */
export class PublishRateLimitedError extends Error {
  override name = 'PublishRateLimitedError'
  readonly code = 'ERR_PUBLISH_RATE_LIMITED'

  constructor (principal: string, ratePerS: number) {
    super(`principal ${principal} publishes over ${ratePerS} events/s; slow down (events.publishRatePerS sets the rate)`)
  }
}

/** The policy refuses this principal the events of a topic. */
export class EventsForbiddenError extends Error {
  override name = 'EventsForbiddenError'
  readonly code = 'ERR_EVENTS_FORBIDDEN'

  constructor (principal: string, what: string, reason: string) {
    super(`principal ${principal} may not ${what}: ${reason}`)
  }
}

/** A webhook URL is not on `events.webhookAllow`. */
export class WebhookNotAllowedError extends Error {
  override name = 'WebhookNotAllowedError'
  readonly code = 'ERR_WEBHOOK_NOT_ALLOWED'

  constructor (url: string) {
    super(`webhook target ${url} is not on events.webhookAllow; add its origin (e.g. "https://hooks.example.com") there`)
  }
}
