import { isBrokenCircuitError } from 'cockatiel'

/**
 * What a failed attempt says about the call and the replica:
 * - 'caller': the caller's own error (invalid params, unknown method, a call on a closed
 *   pool, a request this process could not encode or send: too large for a frame, nested
 *   too deep for `JSON.stringify`): not retried, not held against the replica;
 * - 'refused': the request was not run and the replica is not at fault (open breaker,
 *   full bulkhead, or the replica refused the session or request because one of its limits
 *   is reached, its session table or a rate or concurrency limit: -32029, see `isLimitRefusal`): safe to send elsewhere;
 * - 'unreachable': the request never left because the session could not be opened:
 *   safe to send elsewhere, and held against the replica;
 * - 'replica': the replica failed after the request may have reached it (connection
 *   lost, timeout, server error): held against it, sent elsewhere only when the call is
 *   safe to run twice.
 */
export type FailureKind = 'caller' | 'refused' | 'unreachable' | 'replica'

// JSON-RPC / MCP codes that blame the request, not the server that answered it. -32003: the
// replica's policy refused this caller (p2p-mcp's POLICY_DENIED_CODE): one user's refusals must
// not open the breaker that every other user of the replica goes through.
const CALLER_CODES = new Set([-32700, -32600, -32601, -32602, -32042, -32003])

export function classify (error: unknown): FailureKind {
  if (isBrokenCircuitError(error)) return 'refused'
  if (typeof error === 'object' && error !== null) {
    const e = error as { name?: unknown, code?: unknown }
    if (e.name === 'BulkheadFullError') return 'refused'
    if (e.name === 'PoolClosedError' || e.name === 'InvalidParametersError') return 'caller'
    if (isLimitRefusal(error)) return 'refused'
    if (e.name === 'ConnectError') return 'unreachable'
    if (e.name === 'McpError' && typeof e.code === 'number' && CALLER_CODES.has(e.code)) return 'caller'
    if (isLocalEncodeError(error)) return 'caller'
  }
  return 'replica'
}

/** JSON-RPC code with which a serving peer refuses a session or request over one of its limits (`@p2p-mcp/transport`'s LIMIT_REFUSED_CODE). */
export const LIMIT_REFUSED_CODE = -32029

/**
 * A replica refused a new session or a request because one of its limits is reached (its
 * session table, its requests in flight per session): JSON-RPC error -32029, or libp2p's
 * `TooManyOutboundProtocolStreamsError` raised here, or a `ConnectError` caused by either. Nothing ran and the replica is healthy, so it is not held
 * against it; the call may go elsewhere.
 */
export function isLimitRefusal (error: unknown): boolean {
  for (let e = error, depth = 0; typeof e === 'object' && e !== null && depth < 4; depth++) {
    const x = e as { name?: unknown, code?: unknown, cause?: unknown }
    if (x.name === 'McpError' && x.code === LIMIT_REFUSED_CODE) return true
    // libp2p's own per-connection stream limit, hit in this process before anything was sent.
    if (x.name === 'TooManyOutboundProtocolStreamsError') return true
    if (x.name !== 'ConnectError') return false
    e = x.cause
  }
  return false
}

/**
 * An error raised in this process while encoding or sending the request, before any byte of
 * it left: an outgoing frame over the limit (`FrameTooLargeError` with code
 * ERR_FRAME_TOO_LARGE, raised on send; a frame received too large ends the session and
 * surfaces as a closed connection), or `JSON.stringify` out of stack on deeply nested
 * arguments. The same request fails the same way on every replica.
 */
export function isLocalEncodeError (error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false
  const e = error as { name?: unknown, code?: unknown, message?: unknown }
  if (e.name === 'FrameTooLargeError' && typeof e.message === 'string' && e.message.startsWith('outgoing')) return true
  return error instanceof RangeError && typeof e.message === 'string' && e.message.includes('Maximum call stack size exceeded')
}

/** True for failures that count against a replica in its breaker, ejection and success rate. */
export function isReplicaFailure (error: unknown): boolean {
  const kind = classify(error)
  return kind === 'replica' || kind === 'unreachable'
}
