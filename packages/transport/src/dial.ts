import type { Libp2p, PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { DEFAULT_MAX_FRAME_BYTES, DEFAULT_MAX_OUTBOUND_STREAMS, MCP_PROTOCOL } from './constants.js'
import { InvalidParametersError } from './errors.js'
import { intOption, maxFrameBytesOption } from './options.js'
import { StreamTransport } from './stream-transport.js'
import type { DialMcpOptions, McpTransport } from './types.js'

/** Where to dial: a peer id (known to the peer store), a multiaddr ending in `/p2p/<id>`, or their string forms. */
export type McpDialTarget = PeerId | Multiaddr | Multiaddr[] | string

/**
 * Opens a new MCP session to `peer`: one libp2p stream speaking `MCP_PROTOCOL`, wrapped
 * as a `Transport` for an SDK `Client` (which sends `initialize` when it connects).
 */
export async function dialMcp (libp2p: Pick<Libp2p, 'dial'>, peer: McpDialTarget, options: DialMcpOptions = {}): Promise<McpTransport> {
  const maxFrameBytes = maxFrameBytesOption(options.maxFrameBytes, DEFAULT_MAX_FRAME_BYTES)
  const idleTimeoutMs = intOption('idleTimeoutMs', options.idleTimeoutMs, 0, 0)
  const maxOutboundStreams = intOption('maxOutboundStreams', options.maxOutboundStreams, DEFAULT_MAX_OUTBOUND_STREAMS, 1)
  // What a dialer queues is its own requests: bounded by its callers (a pool's bulkhead), not by default here.
  const maxQueuedBytes = intOption('maxQueuedBytes', options.maxQueuedBytes, 0, 0)
  const target = toDialTarget(peer)
  const connection = await libp2p.dial(target, { signal: options.signal })
  const stream = await connection.newStream(MCP_PROTOCOL, { signal: options.signal, maxOutboundStreams })
  const remotePeer = connection.remotePeer
  return new StreamTransport(stream, {
    maxFrameBytes,
    idleTimeoutMs,
    maxQueuedBytes,
    remotePeer,
    logger: options.logger?.child?.({ remotePeer: remotePeer.toString() }) ?? options.logger,
  })
}

function toDialTarget (peer: McpDialTarget): PeerId | Multiaddr | Multiaddr[] {
  if (typeof peer !== 'string') return peer
  try {
    return peer.startsWith('/') ? multiaddr(peer) : peerIdFromString(peer)
  } catch (err) {
    throw new InvalidParametersError('peer', peer, 'a peer id (12D3Koo…) or a multiaddr ending in /p2p/<peer id>', { cause: err })
  }
}
