import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { SSE_KEEPALIVE_MS } from './constants.js'
import type { EventHub, ReplayFrom } from './hub.js'
import type { Logger } from '../logger.js'
import { principalKind, tokenPrincipal } from '../auth/principal.js'

export interface SseServerInit {
  hub: EventHub
  host: string
  port: number
  /** Bearer token → principal; empty: everyone is `anonymous`. */
  tokens: Record<string, string>
  logger: Logger
  /** Most open streams. @default 1000 */
  maxStreams?: number
}

/** Reads where to start from `Last-Event-ID` (wins) or `?from=` (`earliest`, `now`, an offset, an ISO time). */
export function replayFromRequest (lastEventId: string | undefined, from: string | null): ReplayFrom {
  if (lastEventId !== undefined && /^\d{1,15}$/.test(lastEventId)) return { after: Number(lastEventId) }
  if (from === null || from === 'now') return 'now'
  if (from === 'earliest') return 'earliest'
  if (/^\d{1,15}$/.test(from)) return { after: Number(from) }
  const t = Date.parse(from)
  if (!Number.isNaN(t)) return { time: t }
  throw new TypeError(`from=${from} is not earliest, now, an event offset or an ISO time`)
}

/**
 * The events' Server-Sent Events endpoint, on a listener of its own (decision 0141):
 * `GET /events?topics=mesh.peer.*,workflow.%23&filter=...&from=earliest`. Each event is
 * `id: <offset in this peer's log>`, `event: <event_type>`, `data: <event JSON>`; a client
 * that reconnects with `Last-Event-ID` gets every later event, none twice.
 */
export class SseServer {
  readonly #init: SseServerInit
  readonly #server: Server
  readonly #open = new Set<ServerResponse>()
  /** One JSON rendering per event, however many streams carry it. */
  readonly #frames = new WeakMap<object, string>()

  constructor (init: SseServerInit) {
    this.#init = init
    this.#server = createServer((req, res) => { this.#handle(req, res) })
  }

  get url (): URL {
    const a = this.#server.address() as AddressInfo
    return new URL(`http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}/events`)
  }

  async start (): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject)
      this.#server.listen(this.#init.port, this.#init.host, () => { this.#server.off('error', reject); resolve() })
    })
  }

  async stop (): Promise<void> {
    for (const res of this.#open) res.end()
    this.#server.closeAllConnections()
    await new Promise<void>((resolve) => { this.#server.close(() => { resolve() }) })
  }

  #principal (req: IncomingMessage): string | undefined {
    const tokens = this.#init.tokens
    if (Object.keys(tokens).length === 0) return 'anonymous'
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')
    const named = m === null ? undefined : tokens[m[1]!]
    // A configured name without a kind is a token subject (decision 0175): never `local` by accident.
    return named === undefined ? undefined : principalKind(named) === undefined || named === 'local' ? tokenPrincipal(named) : named
  }

  #handle (req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://localhost')
    const fail = (status: number, message: string): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: message }))
    }
    if (url.pathname !== '/events' || req.method !== 'GET') { fail(404, 'GET /events?topics=...'); return }
    const principal = this.#principal(req)
    if (principal === undefined) { fail(401, 'a bearer token from events.http.tokens is required'); return }
    if (this.#open.size >= (this.#init.maxStreams ?? 1000)) { fail(503, 'too many event streams; retry later'); return }
    let sub
    try {
      const topics = (url.searchParams.get('topics') ?? '#').split(',').filter((t) => t.length > 0)
      const lastId = req.headers['last-event-id']
      sub = this.#init.hub.subscribe({
        topics, filter: url.searchParams.get('filter') ?? '', principal,
        from: replayFromRequest(Array.isArray(lastId) ? lastId[0] : lastId, url.searchParams.get('from')),
      }, async (d) => {
        let frame = this.#frames.get(d)
        if (frame === undefined) {
          frame = `id: ${d.offset}\nevent: ${d.event.event_type}\ndata: ${JSON.stringify(d.event)}\n\n`
          this.#frames.set(d, frame)
        }
        if (!res.write(frame)) await new Promise<void>((resolve) => { res.once('drain', resolve); res.once('close', resolve) })
      })
    } catch (err) {
      const e = err as Error & { code?: string }
      fail(e.name === 'EventsForbiddenError' ? 403 : 400, e.message)
      return
    }
    this.#open.add(res)
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' })
    res.write(': ok\n\n')
    const keepalive = setInterval(() => { res.write(': keepalive\n\n') }, SSE_KEEPALIVE_MS)
    keepalive.unref()
    const s = sub
    res.on('close', () => { clearInterval(keepalive); this.#open.delete(res); s.close() })
    void s.closed.then((why) => { if (why !== 'closed') this.#init.logger.debug({ why }, 'SSE subscription ended'); res.end() })
  }
}
