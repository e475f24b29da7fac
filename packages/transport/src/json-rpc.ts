import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js'

/**
 * The shape checks of JSON-RPC 2.0 that a transport owes its protocol layer: what kind
 * of message this is and that its id, method, params, result or error have the right
 * types. The SDK's Protocol validates each method's params and result itself, so this
 * stays a few comparisons instead of a schema library on the hot path.
 *
 * Returns the message, or a sentence saying what is wrong with it.
 */
export function checkJsonRpc (value: unknown): JSONRPCMessage | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return Array.isArray(value) ? 'JSON-RPC batches are not part of MCP' : 'not a JSON object'
  }
  const msg = value as Record<string, unknown>
  if (msg.jsonrpc !== '2.0') return 'jsonrpc is not "2.0"'
  const hasId = 'id' in msg
  if (hasId && !isId(msg.id)) return 'id is not a string or an integer (of at most 2^53 - 1)'
  if ('method' in msg) {
    if (typeof msg.method !== 'string') return 'method is not a string'
    if ('params' in msg && (typeof msg.params !== 'object' || msg.params === null || Array.isArray(msg.params))) {
      return 'params is not an object'
    }
    if ('result' in msg || 'error' in msg) return 'a request carries result or error'
    if ('params' in msg && !metaIsObject(msg.params)) return 'params._meta is not an object'
    return value as JSONRPCMessage
  }
  // A response has no method (checked above) and no params: the SDK rejects both.
  if (('result' in msg || 'error' in msg) && 'params' in msg) return 'a response carries params'
  if ('result' in msg) {
    if (!hasId) return 'a result has no id'
    if ('error' in msg) return 'a response carries both result and error'
    if (typeof msg.result !== 'object' || msg.result === null || Array.isArray(msg.result)) return 'result is not an object'
    if (!metaIsObject(msg.result)) return 'result._meta is not an object'
    return value as JSONRPCMessage
  }
  if ('error' in msg) {
    const error = msg.error as Record<string, unknown> | null
    if (typeof error !== 'object' || error === null) return 'error is not an object'
    if (!Number.isSafeInteger(error.code)) return 'error.code is not an integer (of at most 2^53 - 1)'
    if (typeof error.message !== 'string') return 'error.message is not a string'
    return value as JSONRPCMessage
  }
  return 'neither a request, a notification nor a response'
}

function isId (id: unknown): boolean {
  // The SDK's schema takes safe integers only: 2^53 and above would be accepted here and refused there.
  return typeof id === 'string' || (typeof id === 'number' && Number.isSafeInteger(id))
}

/** `_meta`, where present, is an object (the SDK's schemas say so). */
function metaIsObject (container: unknown): boolean {
  const meta = (container as Record<string, unknown>)._meta
  return meta === undefined && !Object.hasOwn(container as object, '_meta') ? true : typeof meta === 'object' && meta !== null && !Array.isArray(meta)
}
