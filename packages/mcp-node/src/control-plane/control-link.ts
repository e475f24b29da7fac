import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import type { Logger } from '../logger.js'
import { noopLogger } from '../logger.js'
import { decodeRequest, decodeResponse, encodeFrame } from './control-codec.js'
import type { ControlRequest, ControlResponse } from './control-codec.js'
import { CONTROL_PROTOCOL, DEFAULT_CONTROL_TIMEOUT_MS, MAX_CONTROL_FRAME_BYTES, MAX_CONTROL_STREAMS } from './constants.js'
import { errorMessage } from '../errors.js'

/** Sends one control request to a peer and returns its response. */
export interface ControlLink {
  request: (peer: string, req: ControlRequest, options?: { signal?: AbortSignal }) => Promise<ControlResponse>
}

/** Answers one decoded request from `from` (authenticated by the connection). */
export type ControlHandler = (req: ReturnType<typeof decodeRequest>, from: string) => Promise<ControlResponse>

function errorFrame (err: Error & { code?: unknown }): ControlResponse {
  const code = typeof err.code === 'string' ? err.code : 'ERR_CONTROL'
  return { v: 1, type: 'error', name: err.name.slice(0, 128), code: code.slice(0, 128), message: err.message.slice(0, 8192) }
}

/** Serves `/p2p-mcp/control/1.0.0` on a libp2p node: one request and one response per stream. */
export async function serveControl (node: Libp2p, handler: ControlHandler, options: { logger?: Logger, timeoutMs?: number } = {}): Promise<() => Promise<void>> {
  const log = options.logger ?? noopLogger
  const timeoutMs = options.timeoutMs ?? DEFAULT_CONTROL_TIMEOUT_MS
  await node.handle(CONTROL_PROTOCOL, async (stream: Stream, connection) => {
    const from = connection.remotePeer.toString()
    const lp = lpStream(stream, { maxDataLength: MAX_CONTROL_FRAME_BYTES })
    let response: ControlResponse
    try {
      const bytes = await lp.read({ signal: AbortSignal.timeout(timeoutMs) })
      const req = decodeRequest(bytes.subarray())
      response = await handler(req, from)
    } catch (err) {
      log.debug({ from }, 'control request failed: %s', errorMessage(err))
      response = errorFrame(err as Error)
    }
    try {
      await lp.write(encodeFrame(response), { signal: AbortSignal.timeout(timeoutMs) })
      await stream.close()
    } catch (err) {
      stream.abort(err as Error)
    }
  }, { maxInboundStreams: MAX_CONTROL_STREAMS, maxOutboundStreams: MAX_CONTROL_STREAMS })
  return async () => { await node.unhandle(CONTROL_PROTOCOL) }
}

/** The client side over libp2p. */
export function libp2pControlLink (node: Libp2p, options: { timeoutMs?: number } = {}): ControlLink {
  const timeoutMs = options.timeoutMs ?? DEFAULT_CONTROL_TIMEOUT_MS
  return {
    async request (peer, req, opts = {}) {
      const signal = AbortSignal.any([AbortSignal.timeout(timeoutMs), ...(opts.signal === undefined ? [] : [opts.signal])])
      const id: PeerId = peerIdFromString(peer)
      const stream = await node.dialProtocol(id, CONTROL_PROTOCOL, { signal })
      try {
        const lp = lpStream(stream, { maxDataLength: MAX_CONTROL_FRAME_BYTES })
        await lp.write(encodeFrame(req), { signal })
        const res = decodeResponse((await lp.read({ signal })).subarray())
        await stream.close().catch(() => {})
        return res
      } catch (err) {
        stream.abort(err as Error)
        throw err
      }
    },
  }
}
