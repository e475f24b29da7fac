import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface'
import {
  DEFAULT_MAX_FRAME_BYTES, DEFAULT_MAX_IN_FLIGHT_PER_SESSION, DEFAULT_MAX_INBOUND_STREAMS, DEFAULT_MAX_OUTBOUND_STREAMS,
  DEFAULT_MAX_QUEUED_BYTES, DEFAULT_MAX_SESSIONS, DEFAULT_MAX_SESSIONS_PER_PEER, DEFAULT_SERVE_IDLE_TIMEOUT_MS, DEFAULT_UNUSED_GRACE_MS, LIMIT_REFUSED_CODE,
  MCP_PROTOCOL, REFUSAL_TIMEOUT_MS,
} from './constants.js'
import { InvalidParametersError, PeerRefusedError, SessionEvictedError, SessionLimitError, errorMessage } from './errors.js'
import { noopLogger } from './logger.js'
import { intOption, maxFrameBytesOption } from './options.js'
import { StreamTransport } from './stream-transport.js'
import type { McpServerFactory, McpServerLike, McpSessionInfo, ServeMcpOptions, Unserve } from './types.js'

interface Session {
  peer: string
  info: McpSessionInfo
  transport: StreamTransport
  server?: McpServerLike
  ended: boolean
}

/** Streams per connection beyond `maxSessionsPerPeer` that libp2p lets through, for refusals in progress. */
const REFUSAL_STREAMS = 64

/** A refusal's frames are tiny: an `initialize` in, one error out. */
const REFUSAL_FRAME_BYTES = 64 * 1024

/**
 * Answers the first request of a refused session (its `initialize`) with JSON-RPC error
 * `LIMIT_REFUSED_CODE` naming the limit, then closes: the dialer sees a typed refusal, not a
 * reset it would blame on this peer. Bounded: one small frame, `REFUSAL_TIMEOUT_MS`.
 */
function refuseSession (stream: Stream, remotePeer: PeerId, err: SessionLimitError, log: ServeMcpOptions['logger']): void {
  const transport = new StreamTransport(stream, {
    maxFrameBytes: REFUSAL_FRAME_BYTES, idleTimeoutMs: 0, remotePeer, maxQueuedBytes: REFUSAL_FRAME_BYTES, ...(log === undefined ? {} : { logger: log }),
  })
  const timer = setTimeout(() => { stream.abort(err) }, REFUSAL_TIMEOUT_MS)
  timer.unref?.()
  transport.onclose = () => { clearTimeout(timer) }
  transport.onmessage = (message) => {
    if (!('method' in message) || !('id' in message)) return
    transport.onmessage = undefined
    const data = { name: err.name, limit: err.limit, value: err.value }
    transport.send({ jsonrpc: '2.0', id: message.id, error: { code: LIMIT_REFUSED_CODE, message: err.message, data } })
      .then(async () => { await transport.close() }, () => { stream.abort(err) })
  }
  void transport.start()
}

/**
 * Serves MCP on `libp2p` under `MCP_PROTOCOL`: each inbound stream is one session, with
 * its own server from `factory`. Returns a function that stops serving and closes every
 * session.
 */
export async function serveMcp (libp2p: Pick<Libp2p, 'handle' | 'unhandle'>, factory: McpServerFactory, options: ServeMcpOptions = {}): Promise<Unserve> {
  if (typeof factory !== 'function') throw new InvalidParametersError('factory', factory, 'a function (session) => McpServer')
  if (options.authorize !== undefined && typeof options.authorize !== 'function') {
    throw new InvalidParametersError('authorize', options.authorize, 'a function (remotePeer) => boolean | Promise<boolean>')
  }
  const maxFrameBytes = maxFrameBytesOption(options.maxFrameBytes, DEFAULT_MAX_FRAME_BYTES)
  const idleTimeoutMs = intOption('idleTimeoutMs', options.idleTimeoutMs, DEFAULT_SERVE_IDLE_TIMEOUT_MS, 0)
  const maxSessions = intOption('maxSessions', options.maxSessions, DEFAULT_MAX_SESSIONS, 1)
  const maxSessionsPerPeer = intOption('maxSessionsPerPeer', options.maxSessionsPerPeer, DEFAULT_MAX_SESSIONS_PER_PEER, 1)
  // Above the per-peer session limit, so that a peer over it hears a typed refusal, not libp2p's reset.
  const maxInboundStreams = intOption('maxInboundStreams', options.maxInboundStreams, Math.max(DEFAULT_MAX_INBOUND_STREAMS, maxSessionsPerPeer + REFUSAL_STREAMS), 1)
  const maxOutboundStreams = intOption('maxOutboundStreams', options.maxOutboundStreams, DEFAULT_MAX_OUTBOUND_STREAMS, 1)
  const maxInFlight = intOption('maxInFlight', options.maxInFlight, DEFAULT_MAX_IN_FLIGHT_PER_SESSION, 0)
  const maxQueuedBytes = intOption('maxQueuedBytes', options.maxQueuedBytes, DEFAULT_MAX_QUEUED_BYTES, 0)
  const unusedGraceMs = intOption('unusedGraceMs', options.unusedGraceMs, DEFAULT_UNUSED_GRACE_MS, 0)
  const log = options.logger ?? noopLogger
  const authorize = options.authorize

  const sessions = new Set<Session>()
  const perPeer = new Map<string, number>()
  let stopped = false

  const report = (error: Error, info?: McpSessionInfo): void => {
    log.debug('MCP session %s: %s', info?.sessionId ?? '-', error.message)
    try { options.onerror?.(error, info) } catch (err) { log.warn('onerror hook threw: %s', errorMessage(err)) }
  }

  /** Takes a session out of the table (once): at its close, or at once when it is evicted. */
  const release = (session: Session): void => {
    if (session.ended) return
    session.ended = true
    sessions.delete(session)
    const n = (perPeer.get(session.peer) ?? 1) - 1
    if (n === 0) perPeer.delete(session.peer)
    else perPeer.set(session.peer, n)
  }

  /**
   * The table is full: an unused session quiet for `unusedGraceMs` (the longest quiet), else
   * the idle session (nothing in flight, no subscription) of the peer holding the most
   * sessions, the longest quiet, provided that peer would still hold at least as many as
   * `newcomer` after the swap (decision 0156). Undefined when there is none.
   */
  const victimFor = (newcomer: string): Session | undefined => {
    // First the longest-quiet session that never did any work (throwaway identities' sessions), of any other peer.
    const now = performance.now()
    let unused: Session | undefined
    for (const s of sessions) {
      if (s.peer === newcomer || s.transport.used || !s.transport.idle || now - s.transport.lastActivity < unusedGraceMs) continue
      if (unused === undefined || s.transport.lastActivity < unused.transport.lastActivity) unused = s
    }
    if (unused !== undefined) return unused
    const floor = (perPeer.get(newcomer) ?? 0) + 1
    let victim: Session | undefined
    let victimCount = 0
    for (const s of sessions) {
      const count = perPeer.get(s.peer) ?? 0
      if (s.peer === newcomer || count <= floor || !s.transport.idle) continue
      if (count > victimCount || (count === victimCount && s.transport.lastActivity < victim!.transport.lastActivity)) {
        victim = s
        victimCount = count
      }
    }
    return victim
  }

  const handler = async (stream: Stream, connection: Connection): Promise<void> => {
    const remotePeer = connection.remotePeer
    const peer = remotePeer.toString()
    if (stopped) { stream.abort(new Error('MCP service stopped')); return }
    if (authorize !== undefined) {
      let allowed = false
      let cause: unknown
      try { allowed = await authorize(remotePeer) } catch (err) { cause = err }
      if (allowed !== true) {
        const err = new PeerRefusedError(peer, cause)
        stream.abort(err)
        report(err)
        return
      }
    }
    if (stopped) { stream.abort(new Error('MCP service stopped')); return }
    const peerCount = perPeer.get(peer) ?? 0
    let limit: SessionLimitError | undefined
    if (peerCount >= maxSessionsPerPeer) limit = new SessionLimitError(peer, 'maxSessionsPerPeer', maxSessionsPerPeer)
    else if (sessions.size >= maxSessions) {
      const victim = victimFor(peer)
      if (victim === undefined) limit = new SessionLimitError(peer, 'maxSessions', maxSessions)
      else {
        const evicted = new SessionEvictedError(victim.info.sessionId, victim.peer, peer, maxSessions, victim.transport.used ? 'largest holder' : 'unused')
        release(victim)
        log.info('%s', evicted.message)
        void victim.transport.closeWith(evicted)
      }
    }
    if (limit !== undefined) {
      report(limit)
      refuseSession(stream, remotePeer, limit, log)
      return
    }
    const sessionId = `${peer}/${stream.id}`
    const info: McpSessionInfo = {
      remotePeer,
      sessionId,
      authInfo: { token: '', clientId: peer, scopes: [], extra: { remotePeer: peer, transport: 'libp2p' } },
    }
    const transport = new StreamTransport(stream, {
      maxFrameBytes, idleTimeoutMs, remotePeer, sessionId, authInfo: info.authInfo, logger: log, maxInFlight, maxQueuedBytes,
    })
    const session: Session = { peer, info, transport, ended: false }
    sessions.add(session)
    perPeer.set(peer, peerCount + 1)
    let closed = false
    transport.onerror = (err) => { report(err, info) }
    transport.onclose = () => {
      if (closed) return
      closed = true
      release(session)
      // The server's own close is idempotent and releases its request handlers.
      session.server?.close().catch((err: unknown) => { report(err as Error, info) })
    }
    try {
      const server = await factory(info)
      session.server = server
      await server.connect(transport)
      if (closed) await server.close()
    } catch (err) {
      report(err as Error, info)
      stream.abort(err as Error)
      transport.onclose()
    }
  }

  await libp2p.handle(MCP_PROTOCOL, handler, { maxInboundStreams, maxOutboundStreams })

  const unserve = async (): Promise<void> => {
    if (stopped) return
    stopped = true
    await libp2p.unhandle(MCP_PROTOCOL)
    await Promise.all([...sessions].map(async (s) => { await s.transport.close() }))
  }
  Object.defineProperty(unserve, 'sessionCount', { get: () => sessions.size, enumerable: true })
  return unserve as Unserve
}
