import { createHmac, timingSafeEqual } from 'node:crypto'
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { WebhookNotAllowedError } from './errors.js'
import type { Delivery } from './event-bus.js'
import type { EventHub, Subscription } from './hub.js'
import type { WebhookConfig } from './config-schema.js'
import type { Logger } from '../logger.js'
import { errorMessage } from '../errors.js'

/** The signature header: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. */
export const WEBHOOK_SIGNATURE_HEADER = 'x-p2p-mcp-signature'

/** Signs a webhook body at `time` (unix seconds). */
export function signWebhook (secret: string, body: string, time: number): string {
  const mac = createHmac('sha256', secret).update(`${time}.${body}`).digest('hex')
  return `t=${time},v1=${mac}`
}

/**
 * Checks a webhook signature header for a receiver: the HMAC over the timestamp and body, and
 * the timestamp within `toleranceS` of `now` (a replayed old request fails).
 */
export function verifyWebhook (secret: string, header: string | undefined, body: string, options?: { toleranceS?: number, now?: number }): boolean {
  const m = /^t=(\d{1,12}),v1=([0-9a-f]{64})$/.exec(header ?? '')
  if (m === null) return false
  const t = Number(m[1])
  const now = options?.now ?? Math.floor(Date.now() / 1000)
  if (Math.abs(now - t) > (options?.toleranceS ?? 300)) return false
  const want = Buffer.from(createHmac('sha256', secret).update(`${t}.${body}`).digest('hex'))
  return timingSafeEqual(want, Buffer.from(m[2]!))
}

/** True when `url`'s origin is on the allow-list (entries `scheme://host[:port|:*]`). */
export function webhookAllowed (url: string, allow: readonly string[]): boolean {
  let u: URL
  try { u = new URL(url) } catch { return false }
  const port = u.port === '' ? (u.protocol === 'https:' ? '443' : '80') : u.port
  return allow.some((entry) => {
    const m = /^(https?):\/\/([^/:]+|\[[^\]]+\])(?::(\d+|\*))?\/?$/.exec(entry)
    if (m === null) return false
    const entryPort = m[3] ?? (m[1] === 'https' ? '443' : '80')
    return `${m[1]}:` === u.protocol && m[2]!.toLowerCase() === u.hostname.toLowerCase() && (entryPort === '*' || entryPort === port)
  })
}

export interface WebhookInit {
  config: WebhookConfig
  allow: readonly string[]
  hub: EventHub
  /** Directory for the cursor and dead letters; memory only without it. */
  dir: string | undefined
  attempts: number
  retryBaseMs: number
  retryMaxMs: number
  timeoutMs: number
  logger: Logger
}

export interface WebhookStats {
  delivered: number
  failedAttempts: number
  deadLettered: number
  lastOffset: number
}

/**
 * One webhook endpoint: a subscription whose deliveries are POSTed one at a time (concurrency
 * 1 keeps the order), each retried on failure after 1 s, 2 s, 4 s... (at most `retryMaxMs`)
 * up to `attempts` times and then written to the dead-letter file. The cursor (last offset
 * handled) is saved after each event, so a restarted peer resumes where it stopped.
 */
export class Webhook {
  readonly stats: WebhookStats = { delivered: 0, failedAttempts: 0, deadLettered: 0, lastOffset: 0 }
  readonly deadLetters: Array<{ offset: number, eventId: string, error: string }> = []
  readonly #init: WebhookInit
  #sub: Subscription | undefined
  readonly #stop = new AbortController()

  constructor (init: WebhookInit) {
    if (!webhookAllowed(init.config.url, init.allow)) throw new WebhookNotAllowedError(init.config.url)
    this.#init = init
  }

  get #cursorPath (): string | undefined { return this.#init.dir === undefined ? undefined : join(this.#init.dir, `${this.#init.config.id}.cursor`) }

  async start (): Promise<void> {
    let after: number | undefined
    if (this.#init.dir !== undefined) {
      await mkdir(this.#init.dir, { recursive: true })
      const text = await readFile(this.#cursorPath!, 'utf8').catch(() => undefined)
      if (text !== undefined && /^\d+$/.test(text.trim())) after = Number(text.trim())
    }
    const c = this.#init.config
    this.#sub = this.#init.hub.subscribe({
      topics: c.topics, ...(c.filter === undefined ? {} : { filter: c.filter }), principal: c.principal ?? `webhook:${c.id}`,
      from: after === undefined ? 'now' : { after },
    }, async (d) => { await this.#deliver(d) })
    void this.#sub.closed.then((why) => { if (!this.#stop.signal.aborted) this.#init.logger.warn({ webhook: c.id, why }, 'webhook subscription ended') })
  }

  stop (): void {
    this.#stop.abort()
    this.#sub?.close()
  }

  async #deliver (d: Delivery): Promise<void> {
    const c = this.#init.config
    const body = JSON.stringify({ id: d.offset, cid: d.cid, event: d.event })
    let error = ''
    for (let attempt = 1; attempt <= this.#init.attempts && !this.#stop.signal.aborted; attempt++) {
      try {
        const t = Math.floor(Date.now() / 1000)
        const res = await fetch(c.url, {
          method: 'POST',
          body,
          redirect: 'manual', // a redirect could lead anywhere: not followed
          headers: { 'content-type': 'application/json', [WEBHOOK_SIGNATURE_HEADER]: signWebhook(c.secret, body, t), 'x-p2p-mcp-event-id': d.event.event_id },
          signal: AbortSignal.any([this.#stop.signal, AbortSignal.timeout(this.#init.timeoutMs)]),
        })
        await res.body?.cancel()
        if (res.status >= 200 && res.status < 300) {
          this.stats.delivered++
          await this.#done(d.offset)
          return
        }
        error = `HTTP ${res.status}`
      } catch (err) {
        error = errorMessage(err)
      }
      this.stats.failedAttempts++
      if (attempt === this.#init.attempts || this.#stop.signal.aborted) break
      const delay = Math.min(this.#init.retryBaseMs * 2 ** (attempt - 1), this.#init.retryMaxMs)
      this.#init.logger.debug({ webhook: c.id, attempt, delay, error }, 'webhook delivery failed; retrying')
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay)
        timer.unref()
        this.#stop.signal.addEventListener('abort', () => { clearTimeout(timer); resolve() }, { once: true })
      })
    }
    if (this.#stop.signal.aborted) throw new Error('webhook stopped')
    this.stats.deadLettered++
    const letter = { offset: d.offset, eventId: d.event.event_id, error }
    if (this.deadLetters.length < 1000) this.deadLetters.push(letter)
    this.#init.logger.warn({ webhook: c.id, ...letter }, 'webhook delivery dead-lettered')
    if (this.#init.dir !== undefined) await appendFile(join(this.#init.dir, 'dead-letter.jsonl'), JSON.stringify({ webhook: c.id, time: new Date().toISOString(), ...letter, event: d.event }) + '\n').catch(() => {})
    await this.#done(d.offset)
  }

  async #done (offset: number): Promise<void> {
    this.stats.lastOffset = offset
    if (this.#cursorPath !== undefined) await writeFile(this.#cursorPath, String(offset)).catch(() => {})
  }
}
