/** A frame's length prefix announces more bytes than `maxFrameBytes` allows (sent or received). */
export class FrameTooLargeError extends RangeError {
  override name = 'FrameTooLargeError'
  readonly code = 'ERR_FRAME_TOO_LARGE'
  readonly frameBytes: number
  readonly maxFrameBytes: number

  constructor (frameBytes: number, maxFrameBytes: number, direction: 'sent' | 'received') {
    super(`${direction === 'sent' ? 'outgoing' : 'incoming'} frame of ${frameBytes} bytes exceeds maxFrameBytes ` +
      `${maxFrameBytes} (raise it with { maxFrameBytes } on both peers, or send a smaller message)`)
    this.frameBytes = frameBytes
    this.maxFrameBytes = maxFrameBytes
  }
}

/** The byte stream is not a sequence of well-formed length-prefixed frames; the session cannot resynchronise. */
export class InvalidFrameError extends Error {
  override name = 'InvalidFrameError'
  readonly code = 'ERR_INVALID_FRAME'
}

/** A well-framed message is not UTF-8 JSON or not a JSON-RPC 2.0 message; the session goes on. */
export class InvalidMessageError extends Error {
  override name = 'InvalidMessageError'
  readonly code = 'ERR_INVALID_MESSAGE'
}

/** `send()` on a transport that is closed or closing. */
export class TransportClosedError extends Error {
  override name = 'TransportClosedError'
  readonly code = 'ERR_TRANSPORT_CLOSED'

  constructor (sessionId: string | undefined) {
    super(`cannot send on MCP session ${sessionId ?? '(client side)'}: the transport is closed; connect a new transport`)
  }
}

/** A session had no frame either way and no request in flight for `idleTimeoutMs`. */
export class IdleTimeoutError extends Error {
  override name = 'IdleTimeoutError'
  readonly code = 'ERR_IDLE_TIMEOUT'

  constructor (idleTimeoutMs: number) {
    super(`MCP session idle for ${idleTimeoutMs} ms with no request in flight: closed (raise { idleTimeoutMs }, or 0 to disable)`)
  }
}

/** The `authorize` hook refused a remote peer; its stream was reset before any message was read. */
export class PeerRefusedError extends Error {
  override name = 'PeerRefusedError'
  readonly code = 'ERR_PEER_REFUSED'

  constructor (peer: string, cause?: unknown) {
    super(`peer ${peer} was refused by the authorize hook; its MCP stream was reset`, cause === undefined ? undefined : { cause })
  }
}

/**
 * A new session would exceed `maxSessions` or `maxSessionsPerPeer`: its `initialize` is
 * answered with JSON-RPC error `LIMIT_REFUSED_CODE` (`data.name` = this name), then the stream closes.
 */
export class SessionLimitError extends Error {
  override name = 'SessionLimitError'
  readonly code = 'ERR_SESSION_LIMIT'
  readonly limit: 'maxSessions' | 'maxSessionsPerPeer'
  readonly value: number

  constructor (peer: string, limit: 'maxSessions' | 'maxSessionsPerPeer', value: number) {
    super(`MCP session from ${peer} refused: ${limit} ${value} reached (raise { ${limit} } or close idle sessions)`)
    this.limit = limit
    this.value = value
  }
}

/**
 * The session table was full and this idle session was closed to admit a session of another
 * peer: it had done no work, or its peer held the most sessions (decision 0156).
 */
export class SessionEvictedError extends Error {
  override name = 'SessionEvictedError'
  readonly code = 'ERR_SESSION_EVICTED'

  constructor (sessionId: string, peer: string, newcomer: string, maxSessions: number, why: 'unused' | 'largest holder') {
    super(`MCP session ${sessionId} of ${peer} was closed to admit one of ${newcomer}: maxSessions ${maxSessions} reached and it was idle and ` +
      `${why === 'unused' ? 'had done no work' : 'of the peer holding the most sessions'} (raise { maxSessions }, or open fewer sessions per peer)`)
  }
}

/** A request arrived while `maxInFlight` requests of its session were unanswered: answered with `LIMIT_REFUSED_CODE`, not run. */
export class InFlightLimitError extends Error {
  override name = 'InFlightLimitError'
  readonly code = 'ERR_IN_FLIGHT_LIMIT'
  readonly limit = 'maxInFlight'
  readonly value: number

  constructor (sessionId: string | undefined, maxInFlight: number) {
    super(`request refused on MCP session ${sessionId ?? '(client side)'}: maxInFlight ${maxInFlight} requests already in flight ` +
      '(wait for answers before sending more, or raise { maxInFlight })')
    this.value = maxInFlight
  }
}

/**
 * More than `maxQueuedBytes` waited to be sent to a remote that does not read: the stream was
 * reset (decision 0157).
 */
export class SendQueueFullError extends Error {
  override name = 'SendQueueFullError'
  readonly code = 'ERR_SEND_QUEUE_FULL'
  readonly queuedBytes: number
  readonly maxQueuedBytes: number

  constructor (sessionId: string | undefined, queuedBytes: number, maxQueuedBytes: number) {
    super(`MCP session ${sessionId ?? '(client side)'} reset: ${queuedBytes} bytes queued for a remote that is not reading exceed ` +
      `maxQueuedBytes ${maxQueuedBytes} (the remote must read its responses; raise { maxQueuedBytes } for larger bursts)`)
    this.queuedBytes = queuedBytes
    this.maxQueuedBytes = maxQueuedBytes
  }
}

/** An option or a connect/serve spec is invalid; `field` names it. */
export class InvalidParametersError extends TypeError {
  override name = 'InvalidParametersError'
  readonly code = 'ERR_INVALID_PARAMETERS'
  readonly field: string

  constructor (field: string, value: unknown, expected: string, options?: ErrorOptions) {
    super(`invalid ${field}: ${describe(value)}; expected ${expected}`, options)
    this.field = field
  }
}

function describe (value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'function') return 'a function'
  if (typeof value === 'object' && value !== null) {
    try { return JSON.stringify(value).slice(0, 80) } catch { return Object.prototype.toString.call(value) }
  }
  return String(value)
}

/** The message of anything thrown (an `Error`'s message, else its string form). */
export function errorMessage (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
