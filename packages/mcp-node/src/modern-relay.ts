import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { peerPrincipal, type Identity } from './auth/principal.js'
import { POLICY_DENIED_CODE } from './constants.js'
import { childOf, type Logger } from './logger.js'
import type { NodeComponents, NodeModule } from './module.js'
import { meshName } from './naming.js'
import { errorMessage } from './errors.js'

/**
 * 2026-07-28 requests relayed as they are from the peer that received them to a peer hosting
 * the server, and from there to the server (decision 0072): one stream per request, the request
 * in one frame, the server's answer back as frames. Nothing is kept between requests, so any
 * replica can answer any round of an interactive (`input_required`) call.
 */
export const MODERN_RELAY_PROTOCOL = '/p2p-mcp/mcp-2026/1.0.0'
export const MODERN_PROTOCOL_VERSION = '2026-07-28'
/** Largest relayed request or message (bytes of JSON). */
export const MAX_RELAY_FRAME_BYTES = 4 * 1024 * 1024
const RELAY_TIMEOUT_MS = 10 * 60_000
/** How long a server found to speak only 2025 sessions is not asked again. */
const LEGACY_RECHECK_MS = 30_000
/** The headers a 2026-07-28 request carries to the server. */
const FORWARDED_HEADERS = ['mcp-method', 'mcp-name', 'mcp-protocol-version', 'accept', 'content-type', 'last-event-id'] as const

/** Sent by the requesting peer; `identity`: the caller, asserted by that peer (decision 0176; older peers send none). */
export interface RelayRequest { server: string, headers: Record<string, string>, body: unknown, identity?: unknown }
/** Sent back: the head first, then one frame per JSON-RPC message, or `legacy`/`error` alone. */
export type RelayFrame = { head: { status: number, contentType: string } } | { message: unknown } | { legacy: true } | RelayError
/** A refusal or failure; `code` and `data` (added after the first release, which ignores them) carry a JSON-RPC error such as -32029. */
export interface RelayError { error: string, code?: number, data?: unknown }

/** What the serving side decides for a request: refused, or admitted (then `finish` it with how it went). */
export type RelayAdmission = { ok: false, error: RelayError } | { ok: true, finish: (outcome: 'ok' | 'error', reason?: string) => void }

/** Deepest nesting of a relayed request's body (objects and arrays): past the front door's argument limit, with room for the envelope. */
export const MAX_RELAY_BODY_DEPTH = 128

/** A relay frame or request that is not what the protocol says (from a peer, so never trusted). */
export class RelayProtocolError extends TypeError {
  override name = 'RelayProtocolError'
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true })

function relayObject (bytes: Uint8Array, what: string): Record<string, unknown> {
  let value: unknown
  try {
    value = JSON.parse(strictUtf8.decode(bytes))
  } catch (err) {
    throw new RelayProtocolError(`a ${what} of ${bytes.byteLength} bytes is not UTF-8 JSON: ${errorMessage(err)}`, { cause: err })
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new RelayProtocolError(`a ${what} is not a JSON object`)
  return value as Record<string, unknown>
}

/** Nesting depth of `value`, walked without recursion; stops counting past `limit`. */
function depthOver (value: unknown, limit: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]]
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!
    if (typeof v !== 'object' || v === null) continue
    if (depth > limit) return true
    for (const child of Object.values(v)) if (typeof child === 'object' && child !== null) stack.push([child, depth + 1])
  }
  return false
}

/** Decodes the request frame a peer sends: `{ server, headers, body }`; throws `RelayProtocolError`. */
export function decodeRelayRequest (bytes: Uint8Array): RelayRequest {
  const o = relayObject(bytes, 'relay request')
  const headers = o.headers
  if (typeof o.server !== 'string' || typeof headers !== 'object' || headers === null || Array.isArray(headers)) {
    throw new RelayProtocolError('not a relay request: { server, headers, body } expected')
  }
  if (depthOver(o.body, MAX_RELAY_BODY_DEPTH)) throw new RelayProtocolError(`a relay request body nests deeper than ${MAX_RELAY_BODY_DEPTH} levels`)
  const strings: Record<string, string> = {}
  for (const [k, v] of Object.entries(headers)) if (typeof v === 'string') strings[k] = v
  // `identity` (decision 0176) is the requesting peer's signed assertion: passed on as it is, the serving peer verifies it.
  return { server: o.server, headers: strings, body: o.body, ...(o.identity === undefined ? {} : { identity: o.identity }) }
}

/** Decodes a frame of a relayed answer: head, message, legacy or error; throws `RelayProtocolError`. */
export function decodeRelayFrame (bytes: Uint8Array): RelayFrame {
  const o = relayObject(bytes, 'relay frame')
  if ('head' in o) {
    const head = o.head as { status?: unknown, contentType?: unknown } | null
    if (typeof head !== 'object' || head === null || !Number.isInteger(head.status) || (head.status as number) < 100 || (head.status as number) > 599 || typeof head.contentType !== 'string') {
      throw new RelayProtocolError('a relay head is not { status: 100..599, contentType: string }')
    }
    return { head: { status: head.status as number, contentType: head.contentType } }
  }
  if ('message' in o) return { message: o.message }
  if (o.legacy === true) return { legacy: true }
  if (typeof o.error === 'string') return { error: o.error }
  throw new RelayProtocolError('a relay frame is none of { head }, { message }, { legacy: true }, { error }')
}

/** An HTTP server hosted here, as the relay reaches it. */
export interface RelayTarget { url: string, headers?: Record<string, string> }

/** Whether a hosted HTTP server answers 2026-07-28 requests (its `server/discover` names that revision). */
async function speaksModern (target: RelayTarget, signal: AbortSignal): Promise<boolean> {
  const res = await fetch(target.url, {
    method: 'POST',
    signal,
    headers: { ...target.headers, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': MODERN_PROTOCOL_VERSION, 'mcp-method': 'server/discover' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'server/discover', params: { _meta: { 'io.modelcontextprotocol/protocolVersion': MODERN_PROTOCOL_VERSION, 'io.modelcontextprotocol/clientInfo': { name: 'p2p-mcp', version: '0.1.0' }, 'io.modelcontextprotocol/clientCapabilities': {} } } }),
  }).catch(() => undefined)
  if (res === undefined || !res.ok) { await res?.body?.cancel().catch(() => {}); return false }
  const text = await res.text().catch(() => '')
  // JSON or one SSE event: either way the versions are in the text.
  return text.includes(`"${MODERN_PROTOCOL_VERSION}"`) && text.includes('supportedVersions')
}

/** Splits an SSE body into the JSON-RPC messages of its `data:` lines (an event above `MAX_RELAY_FRAME_BYTES`, or data that is not JSON, throws `RelayProtocolError`). */
export async function * sseMessages (body: ReadableStream<Uint8Array>): AsyncGenerator<unknown> {
  const decoder = new TextDecoder()
  let buffer = ''
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true })
    if (buffer.length > MAX_RELAY_FRAME_BYTES) throw new RelayProtocolError(`an SSE event larger than ${MAX_RELAY_FRAME_BYTES} bytes`)
    let end: number
    while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const block = buffer.slice(0, end)
      buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, '')
      const data = block.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n')
      if (data === '') continue
      let message: unknown
      try { message = JSON.parse(data) } catch (err) { throw new RelayProtocolError(`an SSE event's data is not JSON: ${errorMessage(err)}`, { cause: err }) }
      yield message
    }
  }
}

/** The serving side of the relay: answers requests for the servers hosted here. */
export interface ModernRelay {
  /** Answers one request as frames (also used in process when this peer hosts the server). */
  answer: (peer: string, request: RelayRequest, signal: AbortSignal) => AsyncGenerator<RelayFrame>
  /** Serves `MODERN_RELAY_PROTOCOL` on `libp2p`; resolves to a function that stops it. */
  serve: (libp2p: Pick<Libp2p, 'handle' | 'unhandle'>) => Promise<() => Promise<void>>
}

/**
 * A request for a hosted HTTP server that speaks 2026-07-28 is POSTed to it and its answer
 * streamed back; anything else gets `legacy` (the requester then uses a 2025 session).
 * `admit` decides per peer and request (policy, the server's limits) and audits it.
 */
export function createModernRelay (init: {
  target: (server: string) => RelayTarget | undefined
  admit: (peer: string, request: { server: string, method: string, name?: string, uri?: string, identity?: unknown }) => RelayAdmission | Promise<RelayAdmission>
  log: Logger
}): ModernRelay {
  const modern = new Map<string, { ok: boolean, at: number }>()

  async function * answer (peer: string, request: RelayRequest, signal: AbortSignal): AsyncGenerator<RelayFrame> {
    const body = request.body as { method?: unknown, params?: { name?: unknown, uri?: unknown } } | undefined
    const method = typeof body?.method === 'string' ? body.method : ''
    const admission = await init.admit(peer, {
      server: request.server, method,
      ...(typeof body?.params?.name === 'string' ? { name: body.params.name } : {}),
      ...(typeof body?.params?.uri === 'string' ? { uri: body.params.uri } : {}),
      ...(request.identity === undefined ? {} : { identity: request.identity }),
    })
    if (!admission.ok) { yield admission.error; return }
    let outcome: 'ok' | 'error' = 'error'
    try {
      yield * forward(request, signal)
      outcome = 'ok'
    } finally {
      admission.finish(outcome)
    }
  }

  async function * forward (request: RelayRequest, signal: AbortSignal): AsyncGenerator<RelayFrame> {
    const target = init.target(request.server)
    let known = modern.get(request.server)
    if (target !== undefined && (known === undefined || (!known.ok && Date.now() - known.at > LEGACY_RECHECK_MS))) {
      known = { ok: await speaksModern(target, signal), at: Date.now() }
      modern.set(request.server, known)
    }
    if (target === undefined || known?.ok !== true) { yield { legacy: true }; return }
    const headers: Record<string, string> = { ...target.headers }
    for (const h of FORWARDED_HEADERS) if (typeof request.headers[h] === 'string') headers[h] = request.headers[h]
    const res = await fetch(target.url, { method: 'POST', headers, body: JSON.stringify(request.body), signal })
    const contentType = res.headers.get('content-type') ?? ''
    yield { head: { status: res.status, contentType } }
    if (res.body === null) return
    if (contentType.includes('text/event-stream')) {
      for await (const message of sseMessages(res.body)) yield { message }
    } else {
      const text = await res.text()
      if (text.trim() !== '') yield { message: JSON.parse(text) as unknown }
    }
  }

  return {
    answer,
    async serve (libp2p) {
      const handler = async (stream: Stream, connection: { remotePeer: PeerId }): Promise<void> => {
        const lp = lpStream(stream, { maxDataLength: MAX_RELAY_FRAME_BYTES })
        const signal = AbortSignal.timeout(RELAY_TIMEOUT_MS)
        const send = async (frame: RelayFrame): Promise<void> => { await lp.write(new TextEncoder().encode(JSON.stringify(frame)), { signal }) }
        let server = '?'
        try {
          const request = decodeRelayRequest((await lp.read({ signal })).subarray())
          server = request.server
          for await (const frame of answer(connection.remotePeer.toString(), request, signal)) await send(frame)
        } catch (err) {
          init.log.debug('2026-07-28 relay for %s: %s', server, errorMessage(err))
          await send({ error: errorMessage(err) }).catch(() => {})
        } finally {
          await stream.close().catch(() => {})
        }
      }
      await libp2p.handle(MODERN_RELAY_PROTOCOL, handler, { maxInboundStreams: 256, maxOutboundStreams: 256 })
      return async () => { await libp2p.unhandle(MODERN_RELAY_PROTOCOL) }
    },
  }
}

function refusedOf (frame: RelayError): RelayOutcome {
  const code = typeof frame.code === 'number' && Number.isSafeInteger(frame.code) ? frame.code : undefined
  return { kind: 'refused', error: String(frame.error), ...(code === undefined ? {} : { code }), ...(frame.data === undefined ? {} : { data: frame.data }) }
}

/** What a relayed request produced: the server's answer, or why it did not get one. */
export type RelayOutcome =
  | { kind: 'answer', peer: string, status: number, contentType: string, messages: AsyncGenerator<unknown> }
  | { kind: 'legacy' }
  | { kind: 'refused', error: string, code?: number, data?: unknown }

/**
 * Sends a 2026-07-28 request for `server` to the first of `peers` that answers. A replica that
 * cannot be reached, or fails before its answer starts, is skipped: the request carries all its
 * state, so another replica can serve it.
 */
export async function relayModern (libp2p: Pick<Libp2p, 'dialProtocol'>, peers: string[], request: RelayRequest, options: {
  signal: AbortSignal
  log: Logger
  /** This peer and its own relay: a request for a server hosted here does not leave the process. */
  self?: { peer: string, relay: ModernRelay }
}): Promise<RelayOutcome> {
  let lastError = 'no peer serves it right now'
  let legacy = false
  for (const peer of peers) {
    if (peer === options.self?.peer) {
      const frames = options.self.relay.answer(peer, request, options.signal)
      const step = await frames.next()
      const first: RelayFrame | undefined = step.done === true ? undefined : step.value
      if (first === undefined || 'legacy' in first) { legacy = true; continue }
      if ('error' in first) return refusedOf(first)
      if (!('head' in first)) continue
      const messages = async function * (): AsyncGenerator<unknown> {
        for await (const f of frames) {
          if ('message' in f) yield f.message
          else if ('error' in f) throw new Error(f.error)
        }
      }
      return { kind: 'answer', peer, ...first.head, messages: messages() }
    }
    let stream: Stream | undefined
    try {
      // The protocol id travels with the request in the first message: one round trip less per request.
      stream = await libp2p.dialProtocol(peerIdFromString(peer), MODERN_RELAY_PROTOCOL, { signal: options.signal, negotiateFully: false })
      const lp = lpStream(stream, { maxDataLength: MAX_RELAY_FRAME_BYTES })
      await lp.write(new TextEncoder().encode(JSON.stringify(request)), { signal: options.signal })
      const read = async (): Promise<RelayFrame | undefined> => {
        try {
          return decodeRelayFrame((await lp.read({ signal: options.signal })).subarray())
        } catch (err) {
          if ((err as Error).name === 'UnexpectedEOFError') return undefined
          throw err
        }
      }
      const first = await read()
      if (first === undefined) throw new Error(`peer ${peer} closed the relay stream`)
      if ('legacy' in first) { legacy = true; await stream.close().catch(() => {}); continue }
      if ('error' in first) { await stream.close().catch(() => {}); return refusedOf(first) }
      if (!('head' in first)) throw new Error(`peer ${peer} sent a message before the head`)
      const s = stream
      const messages = async function * (): AsyncGenerator<unknown> {
        try {
          for (let f = await read(); f !== undefined; f = await read()) {
            if ('message' in f) yield f.message
            else if ('error' in f) throw new Error(f.error)
          }
        } finally {
          await s.close().catch(() => {})
        }
      }
      return { kind: 'answer', peer, ...first.head, messages: messages() }
    } catch (err) {
      stream?.abort(err as Error)
      lastError = `${peer}: ${errorMessage(err)}`
      options.log.debug('2026-07-28 relay via %s failed, trying the next replica: %s', peer, errorMessage(err))
    }
  }
  return legacy ? { kind: 'legacy' } : { kind: 'refused', error: `no replica answered: ${lastError}` }
}

/** The relay as a module of the peer: serves the protocol, and relays this peer's own requests. */
export interface ModernRelayModule extends NodeModule {
  /** Relays a 2026-07-28 request to a replica of its server (this peer first if it hosts it). */
  relay: (request: RelayRequest, signal: AbortSignal, caller?: Identity) => Promise<RelayOutcome>
}

/**
 * The 2026-07-28 relay (decision 0072) as a node module: answers requests for the HTTP servers
 * hosted here (tool policy checked for the requesting peer, `allowPeers` enforced) and relays the
 * front door's requests to the replicas the catalog knows. The serving side checks the policy for
 * the requesting peer and the server's limits, and audits tools/call, resources/read and prompts/get.
 */
export function modernRelay (init: { allowPeers?: ReadonlySet<string> } = {}): (components: NodeComponents) => ModernRelayModule {
  return (components) => {
    const log = childOf(components.logger, { component: 'mcp-2026' })
    const relay = createModernRelay({
      target: (server) => {
        const spec = components.router.hosted(server)?.spec
        return spec?.type === 'http' ? { url: spec.url, headers: spec.headers } : undefined
      },
      admit: async (peer, r) => {
        if (init.allowPeers !== undefined && !init.allowPeers.has(peer)) return { ok: false, error: { error: `peer ${peer} is not in allowPeers` } }
        const target = r.method === 'tools/call' && r.name !== undefined
          ? { method: 'tools/call' as const, target: meshName(r.server, r.name), kind: 'tool' as const }
          : r.method === 'prompts/get' && r.name !== undefined
            ? { method: 'prompts/get' as const, target: meshName(r.server, r.name), kind: 'prompt' as const }
            : r.method === 'resources/read' && r.uri !== undefined ? { method: 'resources/read' as const, target: r.uri, kind: 'resource' as const } : undefined
        if (target === undefined) return { ok: true, finish: () => {} }
        // This peer's own requests were checked at its front door; another peer's are checked as that
        // peer and as the caller it asserts (decision 0176).
        let caller: Identity = { principal: peerPrincipal(peer), scopes: [] }
        if (r.identity !== undefined && peer !== components.peerId) {
          try {
            caller = await components.router.verifyIdentity(r.identity, peer)
          } catch (err) {
            log.warn({ peer }, 'identity assertion refused: %s', errorMessage(err))
            return { ok: false, error: { error: errorMessage(err), code: POLICY_DENIED_CODE, data: { name: 'IdentityAssertionError' } } }
          }
        }
        const a = components.router.access.admit({
          ...target, principal: caller.principal, scopes: caller.scopes, ...(caller.assertedBy === undefined ? {} : { assertedBy: caller.assertedBy }),
          server: r.server, role: 'serving', enforce: peer !== components.peerId,
        })
        if (!a.ok) return { ok: false, error: { error: a.error.message.replace(/^MCP error -?\d+: /, ''), code: a.error.code, ...(a.error.data === undefined ? {} : { data: a.error.data }) } }
        return { ok: true, finish: (outcome, reason) => { a.finish(outcome, undefined, reason) } }
      },
      log,
    })
    let unserve: (() => Promise<void>) | undefined
    return {
      name: 'mcp-2026-relay',
      async start () { unserve = await relay.serve(components.libp2p) },
      async stop () { await unserve?.(); unserve = undefined },
      relay: async (request, signal, caller) => {
        // The serving peer learns who the caller is, signed by this peer; a client's own `identity` never passes.
        const signed: RelayRequest = {
          server: request.server, headers: request.headers, body: request.body,
          ...(caller === undefined ? {} : { identity: await components.router.assertIdentity(caller) }),
        }
        return await relayModern(components.libp2p, components.router.catalog.groups.get(request.server)?.providers ?? [], signed, {
          signal, log, self: { peer: components.peerId, relay },
        })
      },
    }
  }
}
