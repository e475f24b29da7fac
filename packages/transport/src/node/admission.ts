import { createServer, type Server as HttpServer } from 'node:http'
import { intOption } from '../options.js'

/** Sessions admitted (initialising or open) at once, over all principals. */
export const DEFAULT_HTTP_MAX_SESSIONS = 1024
/** Sessions admitted (initialising or open) by one principal at once (decision 0170). */
export const DEFAULT_HTTP_MAX_SESSIONS_PER_PRINCIPAL = 256
/** A session that has made no request but `initialize` and `ping`, with nothing in flight, is closed after this long. */
export const DEFAULT_HTTP_UNUSED_IDLE_TIMEOUT_MS = 60_000
/** Requests whose body is being read at once, over all principals; more get 503. */
export const DEFAULT_HTTP_MAX_PENDING_REQUESTS = 1024
/** Bytes of request bodies being read at once, over all principals; a body that would pass it gets 503. */
export const DEFAULT_HTTP_MAX_PENDING_BYTES = 64 * 1024 * 1024
/** POST and DELETE requests of one principal being read or answered at once (sessions and stateless requests). */
export const DEFAULT_HTTP_MAX_IN_FLIGHT_PER_PRINCIPAL = 256
/** Long-lived streams of one principal at once: GET event streams and 2026-07-28 `subscriptions/listen`. */
export const DEFAULT_HTTP_MAX_STREAMS_PER_PRINCIPAL = 256
/** Time to read a request body, from the request's arrival; past it: 408 and the connection is closed. */
export const DEFAULT_HTTP_BODY_TIMEOUT_MS = 30_000
/** Time to receive a request's headers (the HTTP server's `headersTimeout`; Node's own default is 60 s). */
export const DEFAULT_HTTP_HEADERS_TIMEOUT_MS = 10_000

/** The admission limits of the HTTP front door, each a number in its options. */
export type AdmissionLimit = 'maxSessions' | 'maxSessionsPerPrincipal' | 'maxPendingRequests' | 'maxPendingBytes' | 'maxInFlightPerPrincipal' | 'maxStreamsPerPrincipal'

/**
 * A request refused because an admission limit of the HTTP front door is reached: answered
 * with 503, a `Retry-After` header and a JSON-RPC error whose `data` names the limit. The
 * request was not run; nothing is wrong with the server.
 */
export class AdmissionLimitError extends Error {
  override name = 'AdmissionLimitError'
  readonly code = 'ERR_ADMISSION_LIMIT'
  readonly limit: AdmissionLimit
  readonly value: number
  readonly principal: string | undefined
  readonly retryAfterSeconds: number

  constructor (limit: AdmissionLimit, value: number, principal: string | undefined, retryAfterSeconds: number, what: string) {
    super(`${what}: ${limit} ${value} reached${principal === undefined ? '' : ` for principal ${JSON.stringify(principal)}`}; ${advice[limit]} (retry after ${retryAfterSeconds} s)`)
    this.limit = limit
    this.value = value
    this.principal = principal
    this.retryAfterSeconds = retryAfterSeconds
  }
}

const advice: Record<AdmissionLimit, string> = {
  maxSessions: 'close sessions you no longer use (HTTP DELETE with their Mcp-Session-Id), or ask the operator to raise maxSessions',
  maxSessionsPerPrincipal: 'close sessions you no longer use (HTTP DELETE with their Mcp-Session-Id), or ask the operator to raise maxSessionsPerPrincipal',
  maxPendingRequests: 'too many request bodies are being received at once; send yours again shortly, or ask the operator to raise maxPendingRequests',
  maxPendingBytes: 'too many request bytes are being received at once; send yours again shortly, or ask the operator to raise maxPendingBytes',
  maxInFlightPerPrincipal: 'wait for answers before sending more requests, or ask the operator to raise maxInFlightPerPrincipal',
  maxStreamsPerPrincipal: 'close event streams or subscriptions/listen streams you no longer read, or ask the operator to raise maxStreamsPerPrincipal',
}

/** A request body did not arrive within `bodyTimeoutMs` (slowloris): answered 408, the connection closed. */
export class RequestBodyTimeoutError extends Error {
  override name = 'RequestBodyTimeoutError'
  readonly code = 'ERR_BODY_TIMEOUT'

  constructor (timeoutMs: number, received: number) {
    super(`Request Timeout: the request body did not arrive within bodyTimeoutMs ${timeoutMs} (${received} bytes received); send the whole body at once`)
  }
}

/** The admission options of {@link createAdmission} (a subset of `HttpSessionOptions`). */
export interface AdmissionInit {
  maxSessions?: number
  maxSessionsPerPrincipal?: number
  maxPendingRequests?: number
  maxPendingBytes?: number
  maxInFlightPerPrincipal?: number
  maxStreamsPerPrincipal?: number
}

/** What one principal holds right now. */
interface Usage { sessions: number, inFlight: number, streams: number }

/** Gives back what was taken; calling it again does nothing. */
export type Release = () => void

/** A snapshot of what the front door holds, for metrics. */
export interface AdmissionStats {
  /** Sessions admitted: open, or reserved by an `initialize` being answered. */
  sessions: number
  pendingRequests: number
  pendingBytes: number
  inFlight: number
  streams: number
  /** Principals holding anything. */
  principals: number
  /** Refusals since start, by limit. */
  refused: Partial<Record<AdmissionLimit, number>>
}

/**
 * The counters behind the HTTP front door's admission (decision 0170): sessions are counted
 * from the moment they are admitted (a reservation, before the server answers `initialize`),
 * bodies being read are bounded in number and bytes, and each principal (an opaque string)
 * has its own bound on sessions, requests in flight and long-lived streams.
 */
export function createAdmission (init: AdmissionInit, retryAfter: (limit: AdmissionLimit, principal: string) => number) {
  const limits = {
    maxSessions: intOption('spec.maxSessions', init.maxSessions, DEFAULT_HTTP_MAX_SESSIONS, 1),
    maxSessionsPerPrincipal: intOption('spec.maxSessionsPerPrincipal', init.maxSessionsPerPrincipal, DEFAULT_HTTP_MAX_SESSIONS_PER_PRINCIPAL, 1),
    maxPendingRequests: intOption('spec.maxPendingRequests', init.maxPendingRequests, DEFAULT_HTTP_MAX_PENDING_REQUESTS, 1),
    maxPendingBytes: intOption('spec.maxPendingBytes', init.maxPendingBytes, DEFAULT_HTTP_MAX_PENDING_BYTES, 1),
    maxInFlightPerPrincipal: intOption('spec.maxInFlightPerPrincipal', init.maxInFlightPerPrincipal, DEFAULT_HTTP_MAX_IN_FLIGHT_PER_PRINCIPAL, 1),
    maxStreamsPerPrincipal: intOption('spec.maxStreamsPerPrincipal', init.maxStreamsPerPrincipal, DEFAULT_HTTP_MAX_STREAMS_PER_PRINCIPAL, 1),
  }
  const usage = new Map<string, Usage>()
  const totals = { sessions: 0, pendingRequests: 0, pendingBytes: 0, inFlight: 0, streams: 0 }
  const refused: Partial<Record<AdmissionLimit, number>> = {}

  const usageOf = (principal: string): Usage => {
    let u = usage.get(principal)
    if (u === undefined) { u = { sessions: 0, inFlight: 0, streams: 0 }; usage.set(principal, u) }
    return u
  }
  const refuse = (limit: AdmissionLimit, principal: string | undefined, what: string): AdmissionLimitError => {
    refused[limit] = (refused[limit] ?? 0) + 1
    return new AdmissionLimitError(limit, limits[limit], principal, Math.max(1, Math.ceil(retryAfter(limit, principal ?? ''))), what)
  }
  /** Takes one of `kind` for `principal`, or says which limit refuses it. */
  const take = (kind: keyof Usage, principal: string, limit: AdmissionLimit, what: string): Release | AdmissionLimitError => {
    const u = usageOf(principal)
    if (kind === 'sessions' && totals.sessions >= limits.maxSessions) return refuse('maxSessions', undefined, what)
    if (u[kind] >= limits[limit]) return refuse(limit, principal, what)
    u[kind]++
    totals[kind]++
    let released = false
    return () => {
      if (released) return
      released = true
      u[kind]--
      totals[kind]--
      if (u.sessions === 0 && u.inFlight === 0 && u.streams === 0) usage.delete(principal)
    }
  }

  return {
    limits,
    /** Reserves a session slot for `principal` (released when the session closes, or when it never opens). */
    session: (principal: string) => take('sessions', principal, 'maxSessionsPerPrincipal', 'Too many sessions'),
    /** A POST or DELETE of `principal` being read or answered. */
    inFlight: (principal: string) => take('inFlight', principal, 'maxInFlightPerPrincipal', 'Too many requests in flight'),
    /** A long-lived stream of `principal` (GET event stream, `subscriptions/listen`). */
    stream: (principal: string) => take('streams', principal, 'maxStreamsPerPrincipal', 'Too many open streams'),
    /** A body being read; `grow(n)` accounts `n` more bytes of it, or refuses them. */
    pending: (): { release: Release, grow: (bytes: number) => AdmissionLimitError | undefined } | AdmissionLimitError => {
      if (totals.pendingRequests >= limits.maxPendingRequests) return refuse('maxPendingRequests', undefined, 'Too many requests being received')
      totals.pendingRequests++
      let bytes = 0
      let released = false
      return {
        grow (n) {
          if (totals.pendingBytes + n > limits.maxPendingBytes) return refuse('maxPendingBytes', undefined, 'Too many request bytes being received')
          bytes += n
          totals.pendingBytes += n
          return undefined
        },
        release () {
          if (released) return
          released = true
          totals.pendingRequests--
          totals.pendingBytes -= bytes
        },
      }
    },
    stats: (): AdmissionStats => ({ ...totals, principals: usage.size, refused: { ...refused } }),
  }
}

export type Admission = ReturnType<typeof createAdmission>

/** Options of {@link createMcpHttpServer}. */
export interface McpHttpServerInit {
  /** @default 10000 */
  headersTimeoutMs?: number
  /** Time to read a body; the server's `requestTimeout` is `headersTimeoutMs + bodyTimeoutMs`, a backstop behind the handler's own 408. @default 30000 */
  bodyTimeoutMs?: number
}

/**
 * A `node:http` server for an MCP front door, with bounded times to receive a request
 * (slowloris): `headersTimeout`, `requestTimeout`, and a connection check every second
 * instead of Node's 30 s, so that the bounds hold to the second. Response streams (SSE) are
 * not limited by these.
 */
export function createMcpHttpServer (init: McpHttpServerInit = {}): HttpServer {
  const headersTimeoutMs = intOption('headersTimeoutMs', init.headersTimeoutMs, DEFAULT_HTTP_HEADERS_TIMEOUT_MS, 1)
  const bodyTimeoutMs = intOption('bodyTimeoutMs', init.bodyTimeoutMs, DEFAULT_HTTP_BODY_TIMEOUT_MS, 1)
  const server = createServer({ connectionsCheckingInterval: Math.min(1_000, headersTimeoutMs) })
  server.headersTimeout = headersTimeoutMs
  server.requestTimeout = headersTimeoutMs + bodyTimeoutMs
  return server
}
