// The HTTP front door's admission limits in the config (decision 0170): the defaults are the
// transport handler's, and a bad value is a ConfigError naming the field.
import {
  DEFAULT_HTTP_BODY_TIMEOUT_MS, DEFAULT_HTTP_HEADERS_TIMEOUT_MS, DEFAULT_HTTP_IDLE_TIMEOUT_MS, DEFAULT_HTTP_MAX_IN_FLIGHT_PER_PRINCIPAL, DEFAULT_HTTP_MAX_PENDING_BYTES,
  DEFAULT_HTTP_MAX_PENDING_REQUESTS, DEFAULT_HTTP_MAX_SESSIONS_PER_PRINCIPAL, DEFAULT_HTTP_MAX_STREAMS_PER_PRINCIPAL, DEFAULT_HTTP_UNUSED_IDLE_TIMEOUT_MS,
} from '@p2p-mcp/transport/node'
import { describe, expect, it } from 'vitest'
import { parseConfig } from '../src/config.js'

describe('http admission config', () => {
  it('defaults to the transport handler\'s limits', () => {
    expect(parseConfig({}).http).toMatchObject({
      maxSessionsPerPrincipal: DEFAULT_HTTP_MAX_SESSIONS_PER_PRINCIPAL,
      idleTimeoutMs: DEFAULT_HTTP_IDLE_TIMEOUT_MS,
      unusedIdleTimeoutMs: DEFAULT_HTTP_UNUSED_IDLE_TIMEOUT_MS,
      maxInFlightPerPrincipal: DEFAULT_HTTP_MAX_IN_FLIGHT_PER_PRINCIPAL,
      maxStreamsPerPrincipal: DEFAULT_HTTP_MAX_STREAMS_PER_PRINCIPAL,
      maxPendingRequests: DEFAULT_HTTP_MAX_PENDING_REQUESTS,
      maxPendingBytes: DEFAULT_HTTP_MAX_PENDING_BYTES,
      headersTimeoutMs: DEFAULT_HTTP_HEADERS_TIMEOUT_MS,
      bodyTimeoutMs: DEFAULT_HTTP_BODY_TIMEOUT_MS,
    })
  })

  it('names the field of a bad limit; 10,000 sessions for one principal can be configured', () => {
    expect(() => parseConfig({ http: { maxSessionsPerPrincipal: 0 } })).toThrow(/http\.maxSessionsPerPrincipal/)
    expect(() => parseConfig({ http: { bodyTimeoutMs: 'soon' } })).toThrow(/http\.bodyTimeoutMs/)
    expect(parseConfig({ http: { maxSessions: 10_000, maxSessionsPerPrincipal: 10_000, maxStreamsPerPrincipal: 10_000 } }).http.maxSessionsPerPrincipal).toBe(10_000)
  })
})
