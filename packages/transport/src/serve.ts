import type { Connection, Libp2p, Stream } from '@libp2p/interface'
import {
  DEFAULT_MAX_FRAME_BYTES, DEFAULT_MAX_INBOUND_STREAMS, DEFAULT_MAX_OUTBOUND_STREAMS, DEFAULT_MAX_SESSIONS,
  DEFAULT_MAX_SESSIONS_PER_PEER, DEFAULT_SERVE_IDLE_TIMEOUT_MS, MCP_PROTOCOL,
} from './constants.js'
import { InvalidParametersError, PeerRefusedError, SessionLimitError, errorMessage } from './errors.js'
import { noopLogger } from './logger.js'
import { intOption, maxFrameBytesOption } from './options.js'
import { StreamTransport } from './stream-transport.js'
import type { McpServerFactory, McpServerLike, McpSessionInfo, ServeMcpOptions, Unserve } from './types.js'

interface Session {
  info: McpSessionInfo
  transport: StreamTransport
  server?: McpServerLike
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
  const maxInboundStreams = intOption('maxInboundStreams', options.maxInboundStreams, DEFAULT_MAX_INBOUND_STREAMS, 1)
  const maxOutboundStreams = intOption('maxOutboundStreams', options.maxOutboundStreams, DEFAULT_MAX_OUTBOUND_STREAMS, 1)
  const log = options.logger ?? noopLogger
  const authorize = options.authorize

  const sessions = new Set<Session>()
  const perPeer = new Map<string, number>()
  let stopped = false

  const report = (error: Error, info?: McpSessionInfo): void => {
    log.debug('MCP session %s: %s', info?.sessionId ?? '-', error.message)
    try { options.onerror?.(error, info) } catch (err) { log.warn('onerror hook threw: %s', errorMessage(err)) }
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
    const peerCount = perPeer.get(peer) ?? 0
    const limit = sessions.size >= maxSessions
      ? new SessionLimitError(peer, 'maxSessions', maxSessions)
      : peerCount >= maxSessionsPerPeer ? new SessionLimitError(peer, 'maxSessionsPerPeer', maxSessionsPerPeer) : undefined
    if (limit !== undefined || stopped) {
      const err = limit ?? new Error('MCP service stopped')
      stream.abort(err)
      report(err)
      return
    }
    const sessionId = `${peer}/${stream.id}`
    const info: McpSessionInfo = {
      remotePeer,
      sessionId,
      authInfo: { token: '', clientId: peer, scopes: [], extra: { remotePeer: peer, transport: 'libp2p' } },
    }
    const transport = new StreamTransport(stream, {
      maxFrameBytes, idleTimeoutMs, remotePeer, sessionId, authInfo: info.authInfo, logger: log,
    })
    const session: Session = { info, transport }
    sessions.add(session)
    perPeer.set(peer, peerCount + 1)
    let ended = false
    transport.onerror = (err) => { report(err, info) }
    transport.onclose = () => {
      if (ended) return
      ended = true
      sessions.delete(session)
      const n = (perPeer.get(peer) ?? 1) - 1
      if (n === 0) perPeer.delete(peer)
      else perPeer.set(peer, n)
      // The server's own close is idempotent and releases its request handlers.
      session.server?.close().catch((err: unknown) => { report(err as Error, info) })
    }
    try {
      const server = await factory(info)
      session.server = server
      await server.connect(transport)
      if (ended) await server.close()
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
