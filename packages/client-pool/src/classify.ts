import { isBrokenCircuitError } from 'cockatiel'

/**
 * What a failed attempt says about the call and the replica:
 * - 'caller': the caller's own error (invalid params, unknown method, a call on a closed
 *   pool, a request this process could not encode or send: too large for a frame, nested
 *   too deep for `JSON.stringify`): not retried, not held against the replica;
 * - 'refused': the request never ran and the replica is not at fault (open breaker,
 *   full bulkhead, the replica's rate limit -32029): safe to send elsewhere;
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
// -32029: the replica's own rate or concurrency limit refused the call before it ran (p2p-mcp's
// RATE_LIMITED_CODE): another replica may take it, and the refusal is not a fault.
const REFUSED_CODES = new Set([-32029])

export function classify (error: unknown): FailureKind {
  if (isBrokenCircuitError(error)) return 'refused'
  if (typeof error === 'object' && error !== null) {
    const e = error as { name?: unknown, code?: unknown }
    if (e.name === 'BulkheadFullError') return 'refused'
    if (e.name === 'PoolClosedError' || e.name === 'InvalidParametersError') return 'caller'
    if (e.name === 'ConnectError') return 'unreachable'
    if (e.name === 'McpError' && typeof e.code === 'number' && CALLER_CODES.has(e.code)) return 'caller'
    if (e.name === 'McpError' && typeof e.code === 'number' && REFUSED_CODES.has(e.code)) return 'refused'
    if (isLocalEncodeError(error)) return 'caller'
  }
  return 'replica'
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
