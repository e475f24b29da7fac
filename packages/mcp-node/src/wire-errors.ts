import type { Server } from '@modelcontextprotocol/sdk/server/index.js'
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js'
import { isLimitRefusal, isLocalEncodeError } from '@p2p-mcp/client-pool'
import { MAX_ARGUMENT_BYTES, MAX_ARGUMENT_DEPTH } from './constants.js'
import { errorMessage } from './errors.js'

// `McpError` prefixes its message with "MCP error <code>: "; an error relayed across a hop
// (or thrown here and read by the client) would otherwise carry it once per hop.
const PREFIX = /^(?:MCP error -?\d+: )+/

/** An `McpError` whose message, as sent on the wire, does not repeat its code (the client's `McpError` adds it once). */
export function wireError (code: number, message: string, data?: unknown): McpError {
  const text = message.replace(PREFIX, '')
  const err = new McpError(code, text, data)
  err.message = text
  return err
}

/**
 * The JSON-RPC error for anything a handler threw: an `McpError` keeps its code and data (the
 * pool hands back an upstream's own error unchanged), an invalid request shape is -32602 with
 * the first wrong field, a request this peer could not encode is -32602, a call whose outcome
 * is unknown is -32603 with `data: { outcome: 'unknown' }`, anything else -32603.
 */
export function mcpErrorOf (err: unknown): McpError {
  const e = err as { name?: string, message?: string, code?: unknown, cause?: unknown, data?: unknown, issues?: unknown }
  if (err instanceof McpError) return wireError(err.code, err.message, err.data)
  if (e?.cause instanceof McpError && e.name === 'CallFailedError') return wireError(e.cause.code, e.cause.message, e.cause.data)
  // A replica at one of its limits refused the session or request (nothing ran): the client gets that refusal, typed.
  const refusal = limitRefusalIn(err)
  if (refusal !== undefined) return wireError(refusal.code, refusal.message, refusal.data)
  // A replica stalled with a call that is not safe to resend in flight: it may or may not have
  // run (docs/decisions/0151); `data.outcome` says so to programs.
  if (e?.name === 'CallFailedError' && (err as { reason?: unknown }).reason === 'outcome-unknown') {
    return wireError(ErrorCode.InternalError, `${e.name}: ${e.message ?? ''}`, { outcome: 'unknown' })
  }
  if (typeof e?.name === 'string' && e.name.endsWith('ZodError') && Array.isArray(e.issues)) {
    const issue = e.issues[0] as { path?: unknown[], message?: string } | undefined
    const field = issue?.path?.map(String).join('.') ?? ''
    return wireError(ErrorCode.InvalidParams, `invalid request: ${field === '' ? '' : `${field}: `}${issue?.message ?? 'malformed'}`)
  }
  if (isLocalEncodeError(err)) return wireError(ErrorCode.InvalidParams, `this peer cannot forward the request: ${e.message ?? ''}`)
  return wireError(ErrorCode.InternalError, `${e?.name ?? 'Error'}: ${e?.message ?? String(err)}`)
}

/** The replica's -32029 refusal somewhere in an error's cause chain. */
function limitRefusalIn (err: unknown): McpError | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; depth++, e = e.cause) {
    if (e instanceof McpError && isLimitRefusal(e)) return e
  }
  return undefined
}

/**
 * Makes every request handler of `server` answer with `mcpErrorOf(err)`: this covers the SDK's
 * own schema check, which runs before a handler and would answer -32603 with a zod dump.
 * Uses the SDK's handler table (`_requestHandlers`, SDK 1.x).
 */
export function guardHandlers (server: Server): void {
  const table = (server as unknown as { _requestHandlers?: Map<string, (req: unknown, extra: unknown) => Promise<unknown>> })._requestHandlers
  if (!(table instanceof Map)) throw new Error('@modelcontextprotocol/sdk: Protocol._requestHandlers is gone; update wire-errors.ts')
  for (const [method, handler] of table) {
    table.set(method, async (req, extra) => {
      try { return await handler(req, extra) } catch (err) { throw mcpErrorOf(err) }
    })
  }
}

/**
 * Checks a `tools/call`'s arguments at the front door, before anything encodes them: at most
 * `MAX_ARGUMENT_DEPTH` levels of objects and arrays (walked without recursion) and at most
 * `MAX_ARGUMENT_BYTES` as UTF-8 JSON. Throws -32602 naming the limit.
 */
export function checkArguments (args: unknown): void {
  const stack: Array<[unknown, number]> = [[args, 1]]
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!
    if (typeof v !== 'object' || v === null) continue
    if (depth > MAX_ARGUMENT_DEPTH) {
      throw wireError(ErrorCode.InvalidParams, `tools/call arguments nest deeper than ${MAX_ARGUMENT_DEPTH} levels (the limit MAX_ARGUMENT_DEPTH); send flatter arguments`)
    }
    for (const child of Object.values(v)) if (typeof child === 'object' && child !== null) stack.push([child, depth + 1])
  }
  let bytes: number
  try {
    bytes = Buffer.byteLength(JSON.stringify(args) ?? '')
  } catch (err) {
    throw wireError(ErrorCode.InvalidParams, `tools/call arguments cannot be encoded as JSON: ${errorMessage(err)}`)
  }
  if (bytes > MAX_ARGUMENT_BYTES) {
    throw wireError(ErrorCode.InvalidParams, `tools/call arguments are ${bytes} bytes as JSON, more than the limit of ${MAX_ARGUMENT_BYTES} (MAX_ARGUMENT_BYTES); pass large data by reference (a resource URI or a URL)`)
  }
}
