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

/** A new session would exceed `maxSessions` or `maxSessionsPerPeer`; its stream was reset. */
export class SessionLimitError extends Error {
  override name = 'SessionLimitError'
  readonly code = 'ERR_SESSION_LIMIT'

  constructor (peer: string, limit: 'maxSessions' | 'maxSessionsPerPeer', value: number) {
    super(`MCP session from ${peer} refused: ${limit} ${value} reached (raise { ${limit} } or close idle sessions)`)
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
