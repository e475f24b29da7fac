import type { Libp2p, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import type { Message, RaftTransport } from '@p2p-mcp/consensus'
import type { Logger } from '../logger.js'
import { noopLogger } from '../logger.js'

/**
 * Raft messages over libp2p until `@p2p-mcp/consensus/libp2p` (issue 13) lands: one
 * long-lived outbound stream per peer, each batch a length-prefixed JSON frame (bytes as
 * base64). The sender is the authenticated connection's peer, never the `from` field.
 * Bounded: frames up to MAX_FRAME_BYTES, a queue of MAX_QUEUE batches per peer (Raft
 * retries what is dropped). To be replaced by the consensus package's transport.
 */
export const RAFT_PROTOCOL = '/p2p-mcp/raft/1.0.0'
const MAX_FRAME_BYTES = 8 * 1024 * 1024
const MAX_QUEUE = 256
const MAX_MESSAGES_PER_FRAME = 4_096

const encoder = new TextEncoder()
const decoder = new TextDecoder()

function encode (messages: Message[]): Uint8Array {
  return encoder.encode(JSON.stringify(messages, (_k, v: unknown) => (v instanceof Uint8Array ? { $b: Buffer.from(v).toString('base64') } : v)))
}

function decode (bytes: Uint8Array): Message[] {
  const value = JSON.parse(decoder.decode(bytes), (_k, v: unknown) => {
    if (typeof v === 'object' && v !== null && typeof (v as { $b?: unknown }).$b === 'string') return new Uint8Array(Buffer.from((v as { $b: string }).$b, 'base64'))
    return v
  }) as unknown
  if (!Array.isArray(value) || value.length > MAX_MESSAGES_PER_FRAME) throw new TypeError('a raft frame must be an array of at most 4096 messages')
  return value as Message[]
}

interface Outbound { queue: Uint8Array[], busy: boolean }

export function interimRaftTransport (node: Libp2p, options: { logger?: Logger } = {}): RaftTransport {
  const log = options.logger ?? noopLogger
  const self = node.peerId.toString()
  const out = new Map<string, Outbound>()
  const streams = new Map<string, { stream: Stream, lp: ReturnType<typeof lpStream> }>()
  let onMessage: ((m: Message) => void) | undefined

  async function flush (peer: string, o: Outbound): Promise<void> {
    if (o.busy) return
    o.busy = true
    try {
      while (o.queue.length > 0 && onMessage !== undefined) {
        const frame = o.queue.shift()!
        try {
          let s = streams.get(peer)
          if (s === undefined || s.stream.status !== 'open') {
            const stream = await node.dialProtocol(peerIdFromString(peer), RAFT_PROTOCOL, { signal: AbortSignal.timeout(2_000) })
            s = { stream, lp: lpStream(stream, { maxDataLength: MAX_FRAME_BYTES }) }
            streams.set(peer, s)
          }
          await s.lp.write(frame, { signal: AbortSignal.timeout(2_000) })
        } catch (err) {
          // Raft resends what is lost; drop the stream and the queue, and redial next time.
          streams.get(peer)?.stream.abort(err as Error)
          streams.delete(peer)
          o.queue.length = 0
          log.debug({ peer }, 'raft send failed: %s', (err as Error).message)
        }
      }
    } finally {
      o.busy = false
    }
  }

  return {
    async start (deliver) {
      onMessage = deliver
      await node.handle(RAFT_PROTOCOL, async (stream, connection) => {
        const from = connection.remotePeer.toString()
        const lp = lpStream(stream, { maxDataLength: MAX_FRAME_BYTES })
        try {
          while (onMessage !== undefined) {
            const bytes = await lp.read()
            for (const m of decode(bytes.subarray())) {
              if (typeof m !== 'object' || m === null || m.from !== from || m.to !== self) continue
              onMessage?.(m)
            }
          }
        } catch (err) {
          if (stream.status === 'open') stream.abort(err as Error)
        }
      }, { maxInboundStreams: 32, maxOutboundStreams: 32, force: true })
    },
    send (messages) {
      const byPeer = new Map<string, Message[]>()
      for (const m of messages) {
        let list = byPeer.get(m.to)
        if (list === undefined) byPeer.set(m.to, list = [])
        list.push(m)
      }
      for (const [peer, list] of byPeer) {
        let o = out.get(peer)
        if (o === undefined) out.set(peer, o = { queue: [], busy: false })
        if (o.queue.length >= MAX_QUEUE) o.queue.shift()
        o.queue.push(encode(list))
        void flush(peer, o)
      }
    },
    async stop () {
      onMessage = undefined
      await node.unhandle(RAFT_PROTOCOL).catch(() => {})
      for (const s of streams.values()) await s.stream.close().catch(() => {})
      streams.clear()
      out.clear()
    },
  }
}
