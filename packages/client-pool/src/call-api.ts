import type { Client } from '@modelcontextprotocol/sdk/client/index.js'
import type { RequestOptions } from '@modelcontextprotocol/sdk/shared/protocol.js'
import { InvalidParametersError } from './errors.js'
import type { CallOptions, SubscribeOptions } from './types.js'

export type Params<K extends keyof Client> = Client[K] extends (params: infer P, ...rest: never[]) => unknown ? P : never
export type Result<K extends keyof Client> = Client[K] extends (...args: never[]) => Promise<infer R> ? R : never

/** The call API shared by a pool and its scopes. */
export interface ClientPoolView {
  /** `tools/call`, retried elsewhere only when safe (see the README). */
  callTool: (params: Params<'callTool'>, options?: CallOptions) => Promise<Result<'callTool'>>
  listTools: (params?: Params<'listTools'>, options?: CallOptions) => Promise<Result<'listTools'>>
  listResources: (params?: Params<'listResources'>, options?: CallOptions) => Promise<Result<'listResources'>>
  listResourceTemplates: (params?: Params<'listResourceTemplates'>, options?: CallOptions) => Promise<Result<'listResourceTemplates'>>
  readResource: (params: Params<'readResource'>, options?: CallOptions) => Promise<Result<'readResource'>>
  listPrompts: (params?: Params<'listPrompts'>, options?: CallOptions) => Promise<Result<'listPrompts'>>
  getPrompt: (params: Params<'getPrompt'>, options?: CallOptions) => Promise<Result<'getPrompt'>>
  complete: (params: Params<'complete'>, options?: CallOptions) => Promise<Result<'complete'>>
}

/** A view of the pool with its own upstream sessions (see `pool.scope()`). */
export interface ClientPoolScope extends ClientPoolView {
  /** The endpoint the scope sticks to, if it has used one. */
  readonly endpoint: string | undefined
  /**
   * `resources/subscribe` on the scope's sticky upstream session; the server's
   * `notifications/resources/updated` then reach `handlers.notification`. The scope keeps
   * its set of subscribed URIs and re-subscribes them on the new session when it moves to
   * another replica (the old one died, drains or stopped being a candidate), then tells
   * `handlers.notification` a `notifications/resources/updated` for each, since updates
   * may have been missed meanwhile (docs/decisions/0036). Subscribing twice is harmless.
   */
  subscribeResource: (params: { uri: string }, options?: SubscribeOptions) => Promise<Record<string, unknown>>
  /**
   * `resources/unsubscribe`; the URI leaves the scope's set even if the request fails.
   * A URI the scope is not subscribed to is a no-op.
   */
  unsubscribeResource: (params: { uri: string }, options?: SubscribeOptions) => Promise<Record<string, unknown>>
  /** The URIs the scope is subscribed to, and the endpoint whose session holds them. */
  readonly subscriptions: { readonly uris: readonly string[], readonly endpoint: string | undefined }
  /** Closes the scope's upstream sessions; its calls in flight fail. Idempotent. */
  close: () => Promise<void>
}

/** One kind of request, as the call path places it on an endpoint's session. */
export interface Operation<T> {
  method: string
  tool: string | undefined
  /** Known safety (reads are safe); undefined: ask the tool's annotations. */
  safe: boolean | undefined
  invoke: (client: Client, options: RequestOptions) => Promise<T>
  /** A subscription request: placing it does not make the scope's subscriptions follow. */
  subscription?: boolean
  /** Told the endpoint that answered. */
  answered?: (endpointId: string) => void
}

/** Runs an operation through the pool's call path for one scope. */
export type Run = <T>(op: Operation<T>, options: CallOptions | undefined) => Promise<T>

/** The call API, written once: the pool's root scope and every scope are views over `run`. */
export function callApi (run: Run): ClientPoolView {
  return {
    callTool: (params, options) => run(callToolOp(params), options),
    listTools: (params, options) => run(readOp('tools/list', (c, o) => c.listTools(params, o)), options),
    listResources: (params, options) => run(readOp('resources/list', (c, o) => c.listResources(params, o)), options),
    listResourceTemplates: (params, options) => run(readOp('resources/templates/list', (c, o) => c.listResourceTemplates(params, o)), options),
    readResource: (params, options) => run(readOp('resources/read', (c, o) => c.readResource(params, o)), options),
    listPrompts: (params, options) => run(readOp('prompts/list', (c, o) => c.listPrompts(params, o)), options),
    getPrompt: (params, options) => run(readOp('prompts/get', (c, o) => c.getPrompt(params, o)), options),
    complete: (params, options) => run(readOp('completion/complete', (c, o) => c.complete(params, o)), options),
  }
}

export function callToolOp (params: Params<'callTool'>): Operation<Result<'callTool'>> {
  return {
    method: 'tools/call',
    tool: params.name,
    safe: undefined,
    invoke: (client, options) => client.callTool(params, undefined, options),
  }
}

export function subscriptionOp (method: 'resources/subscribe' | 'resources/unsubscribe', uri: string,
  answered?: (endpointId: string) => void): Operation<Record<string, unknown>> {
  return {
    method,
    tool: undefined,
    safe: true,
    subscription: true,
    answered,
    invoke: method === 'resources/subscribe'
      ? async (client, options) => await client.subscribeResource({ uri }, options)
      : async (client, options) => await client.unsubscribeResource({ uri }, options),
  }
}

export function checkUri (params: { uri: string }): string {
  const uri = (params as { uri?: unknown } | undefined)?.uri
  if (typeof uri !== 'string' || uri === '') throw new InvalidParametersError('uri', uri, 'a non-empty resource URI string')
  return uri
}

export function readOp<T> (method: string, invoke: (client: Client, options: RequestOptions) => Promise<T>): Operation<T> {
  return { method, tool: undefined, safe: true, invoke }
}

