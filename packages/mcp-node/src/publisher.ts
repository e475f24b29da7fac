import { serverFromListing, type Registry } from '@p2p-mcp/dht-registry'
import { errorMessage } from './errors.js'
import type { Logger } from './logger.js'
import type { LocalUpstream } from './upstream.js'

/** Publication delay after a change, so that a burst of changes is published once. */
const PUBLISH_DEBOUNCE_MS = 20
/** How long the DHT part of one publication may take. */
const PUBLISH_TIMEOUT_MS = 10_000

/**
 * Publishes the upstreams this peer hosts (those that are up) as its signed descriptor,
 * one publication at a time; `onPublished` runs once the descriptor is signed and announced
 * (the DHT part goes on and only its failures are logged).
 */
export class Publisher {
  private readonly registry: Registry
  private readonly hosted: () => Iterable<LocalUpstream>
  private readonly log: Logger
  private readonly onPublished: () => void
  private timer: ReturnType<typeof setTimeout> | undefined
  private publishing: Promise<void> = Promise.resolve()
  private stopped = false
  /** Changes before the first publication (while the node starts) are part of it. */
  private published = false

  constructor (init: { registry: Registry, hosted: () => Iterable<LocalUpstream>, logger: Logger, onPublished: () => void }) {
    this.registry = init.registry
    this.hosted = init.hosted
    this.log = init.logger
    this.onPublished = init.onPublished
  }

  /** Publishes soon (changes within a few milliseconds are published together). */
  schedule (): void {
    if (this.stopped || !this.published) return
    clearTimeout(this.timer)
    this.timer = setTimeout(() => { void this.publish() }, PUBLISH_DEBOUNCE_MS)
    this.timer.unref()
  }

  /** Publishes now, after any publication in progress. */
  async publish (): Promise<void> {
    this.published = true
    this.publishing = this.publishing.then(async () => {
      if (this.stopped) return
      const servers = [...this.hosted()].filter((u) => u.status === 'up').map((u) => {
        const entry = serverFromListing(u.name, u)
        // The server's access policy travels in its signed entry (seed 000), for rankings and operators.
        return u.spec.accessPolicy === undefined ? entry : { ...entry, accessPolicy: u.spec.accessPolicy }
      })
      try {
        const { dht } = await this.registry.publish({ servers }, { signal: AbortSignal.timeout(PUBLISH_TIMEOUT_MS) })
        void dht.then((r) => { if (r.failed > 0 || r.provideFailed > 0) this.log.debug({ dht: r }, 'DHT part of the publication incomplete') })
      } catch (err) {
        this.log.warn('publishing this peer\'s descriptor failed: %s', errorMessage(err))
      }
      this.onPublished()
    })
    await this.publishing
  }

  /** Withdraws the descriptor; no publication after this. */
  async stop (): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
    await this.registry.unpublish({ signal: AbortSignal.timeout(3_000) }).catch(() => {})
  }
}
