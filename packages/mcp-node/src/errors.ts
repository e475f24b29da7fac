/** A configuration value is wrong: names the field, the value and what was expected. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError'
  readonly code = 'ERR_MCP_NODE_CONFIG'
  readonly field: string
  constructor (field: string, message: string, options?: ErrorOptions) {
    super(`invalid config: ${field}: ${message}`, options)
    this.field = field
  }
}

/** A method needs a started node. */
export class NodeNotStartedError extends Error {
  override readonly name = 'NodeNotStartedError'
  readonly code = 'ERR_MCP_NODE_NOT_STARTED'
  constructor (what: string) {
    super(`${what} needs a started node: call await node.start() first`)
  }
}

/** An upstream with this name is already hosted. */
export class DuplicateUpstreamError extends Error {
  override readonly name = 'DuplicateUpstreamError'
  readonly code = 'ERR_MCP_NODE_DUPLICATE_UPSTREAM'
  constructor (name: string) {
    super(`an upstream named ${JSON.stringify(name)} is already hosted by this peer; give each upstream its own name`)
  }
}

/** A `tools/call`, `resources/read` or `prompts/get` refused by the policy. Crosses the wire as JSON-RPC error -32003. */
export class PolicyDeniedError extends Error {
  override readonly name = 'PolicyDeniedError'
  readonly code = 'ERR_MCP_NODE_POLICY_DENIED'
  constructor (principal: string, target: string, reason: string, kind: 'tool' | 'resource' | 'prompt' = 'tool') {
    super(`${kind} ${JSON.stringify(target)} is not allowed for principal ${JSON.stringify(principal)}: ${reason}`)
  }
}

/** The message of anything thrown (an `Error`'s message, else its string form). */
export function errorMessage (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/**
 * A request refused by a rate or concurrency limit. Crosses the wire as JSON-RPC error -32029
 * (`RATE_LIMITED_CODE`) with `{ name, code, limit, retryAfterMs }` in `error.data`.
 */
export class RateLimitedError extends Error {
  override readonly name = 'RateLimitedError'
  readonly code = 'ERR_MCP_NODE_RATE_LIMITED'
  /** Which limit refused (the rule and what it allows). */
  readonly limit: string
  /** When a retry may be admitted, in ms from now. */
  readonly retryAfterMs: number
  constructor (what: 'rate' | 'concurrency', limit: string, retryAfterMs: number) {
    super(`${what === 'rate' ? 'rate' : 'concurrency'} limit reached: ${limit}; retry after ${retryAfterMs} ms`)
    this.limit = limit
    this.retryAfterMs = retryAfterMs
  }
}
