import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import type { LengthPrefixedStream } from '@libp2p/utils'
import { DEFAULT_WIRE_LIMITS, decodeFrame, encodeChunkFrame, encodeMessagesFrame } from '../codec/message-codec.js'
import type { WireLimits } from '../codec/message-codec.js'
import { InvalidParametersError, errorMessage } from '../errors.js'
import type { Logger, Message, NodeId, RaftTransport } from '../types.js'

export const RAFT_PROTOCOL = '/p2p-mcp/raft/1.0.0'
export const DEFAULT_MAX_FRAME_BYTES = 4 << 20
export const DEFAULT_MAX_QUEUED_FRAMES = 512
export const DEFAULT_SNAPSHOT_CHUNK_BYTES = 256 << 10
export const DEFAULT_MAX_SNAPSHOT_BYTES = 1 << 30
export const DEFAULT_DIAL_TIMEOUT_MS = 2_000
export const DEFAULT_REDIAL_BACKOFF_MS = 250

/** What the transport needs of a libp2p node. */
export type RaftLibp2p = Pick<Libp2p, 'peerId' | 'handle' | 'unhandle' | 'dialProtocol'>

export interface Libp2pRaftTransportInit {
  /**
   * Peer ids (as strings) whose messages are accepted; messages from anyone else are dropped
   * and counted. Update with `setMembers()` as the configuration changes (include a learner
   * before adding it, so that its replies are heard).
   */
  members: Iterable<NodeId>
  /**
   * Protocol id.
   * @default '/p2p-mcp/raft/1.0.0'
   */
  protocol?: string
  /**
   * Largest frame (one batch of messages, or one snapshot chunk) sent or accepted.
   * @default 4194304
   */
  maxFrameBytes?: number
  /**
   * Frames queued per peer before new ones are dropped (and counted): Raft retransmits.
   * @default 512
   */
  maxQueuedFrames?: number
  /**
   * A message larger than this (a snapshot) is sent in chunks of this size, interleaved with
   * other traffic so heartbeats are not stuck behind it.
   * @default 262144
   */
  snapshotChunkBytes?: number
  /**
   * Largest reassembled snapshot message accepted.
   * @default 1073741824
   */
  maxSnapshotBytes?: number
  /**
   * Time allowed to open a peer's stream.
   * @default 2000
   */
  dialTimeoutMs?: number
  /**
   * After a failed dial, messages to that peer are dropped for this long before the next try.
   * @default 250
   */
  redialBackoffMs?: number
  /** Optional logger; silent by default. */
  logger?: Logger
}

/** Counters, for tests, metrics and operators. */
export interface Libp2pRaftTransportStats {
  framesSent: number
  messagesSent: number
  messagesReceived: number
  /** Messages dropped because a peer's queue was full, it could not be dialled, or its stream failed. */
  droppedSend: number
  /** Messages from peers that are not members (and streams they opened). */
  droppedNonMember: number
  /** Frames that failed to decode (the stream is reset). */
  decodeErrors: number
  snapshotsSent: number
  snapshotsReceived: number
  dialFailures: number
}

interface Outbox {
  peer: NodeId
  frames: Array<{ bytes: Uint8Array, count: number }>
  /** Chunks of one large frame (a snapshot), sent one at a time between other frames. */
  chunks: Uint8Array[]
  chunkCount: number
  stream: LengthPrefixedStream<Stream> | undefined
  raw: Stream | undefined
  pumping: boolean
  backoffUntil: number
}

const NOOP_LOGGER: Logger = { debug () {}, info () {}, warn () {}, error () {} }

/**
 * Raft over libp2p: one long-lived outbound stream per peer on `/p2p-mcp/raft/1.0.0`,
 * length-prefixed binary frames (versioned; every decode bounded and typed), a bounded send
 * queue per peer that drops and counts when full, the sender taken from the connection's
 * authenticated peer id (never from the message), messages from non-members dropped and
 * counted, snapshots sent in chunks.
 */
export class Libp2pRaftTransport implements RaftTransport {
  readonly stats: Libp2pRaftTransportStats = {
    framesSent: 0, messagesSent: 0, messagesReceived: 0, droppedSend: 0, droppedNonMember: 0, decodeErrors: 0, snapshotsSent: 0, snapshotsReceived: 0, dialFailures: 0
  }

  private readonly node: RaftLibp2p
  private readonly self: NodeId
  private readonly protocol: string
  private readonly maxFrameBytes: number
  private readonly maxQueuedFrames: number
  private readonly chunkBytes: number
  private readonly limits: WireLimits
  private readonly dialTimeoutMs: number
  private readonly backoffMs: number
  private readonly log: Logger
  private members: Set<NodeId>
  private readonly outboxes = new Map<NodeId, Outbox>()
  private readonly inbound = new Set<Stream>()
  private onMessage: ((m: Message) => void) | undefined
  private started = false
  private chunkIds = 0

  constructor (node: RaftLibp2p, init: Libp2pRaftTransportInit) {
    this.node = node
    this.self = node.peerId.toString()
    this.protocol = init.protocol ?? RAFT_PROTOCOL
    this.maxFrameBytes = positive('maxFrameBytes', init.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES)
    this.maxQueuedFrames = positive('maxQueuedFrames', init.maxQueuedFrames ?? DEFAULT_MAX_QUEUED_FRAMES)
    this.chunkBytes = positive('snapshotChunkBytes', init.snapshotChunkBytes ?? DEFAULT_SNAPSHOT_CHUNK_BYTES)
    if (this.chunkBytes > this.maxFrameBytes - 64) throw new InvalidParametersError('snapshotChunkBytes', this.chunkBytes, `at most maxFrameBytes - 64 (${this.maxFrameBytes - 64})`)
    this.limits = { ...DEFAULT_WIRE_LIMITS, maxEntryBytes: this.maxFrameBytes, maxSnapshotBytes: positive('maxSnapshotBytes', init.maxSnapshotBytes ?? DEFAULT_MAX_SNAPSHOT_BYTES) }
    this.dialTimeoutMs = positive('dialTimeoutMs', init.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS)
    this.backoffMs = init.redialBackoffMs ?? DEFAULT_REDIAL_BACKOFF_MS
    this.log = init.logger ?? NOOP_LOGGER
    this.members = new Set(init.members)
  }

  /** Replaces the set of peers whose messages are accepted (and to whom messages may be sent). */
  setMembers (members: Iterable<NodeId>): void {
    this.members = new Set(members)
    for (const [peer, box] of this.outboxes) {
      if (this.members.has(peer)) continue
      this.closeOutbox(box)
      this.outboxes.delete(peer)
    }
  }

  async start (onMessage: (m: Message) => void): Promise<void> {
    if (this.started) return
    this.started = true
    this.onMessage = onMessage
    await this.node.handle(this.protocol, (stream, connection) => { this.accept(stream, connection) }, { maxInboundStreams: 64, maxOutboundStreams: 64 })
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    await this.node.unhandle(this.protocol)
    for (const box of this.outboxes.values()) this.closeOutbox(box)
    this.outboxes.clear()
    for (const s of this.inbound) s.abort(new Error('raft transport stopped'))
    this.inbound.clear()
  }

  send (messages: Message[]): void {
    if (!this.started) return
    const byPeer = new Map<NodeId, Message[]>()
    for (const m of messages) {
      if (m.to === this.self) continue
      let list = byPeer.get(m.to)
      if (list === undefined) { list = []; byPeer.set(m.to, list) }
      list.push(m)
    }
    for (const [peer, list] of byPeer) this.enqueue(peer, list)
  }

  private enqueue (peer: NodeId, list: Message[]): void {
    if (!this.members.has(peer)) { this.stats.droppedSend += list.length; return }
    let box = this.outboxes.get(peer)
    if (box === undefined) {
      box = { peer, frames: [], chunks: [], chunkCount: 0, stream: undefined, raw: undefined, pumping: false, backoffUntil: 0 }
      this.outboxes.set(peer, box)
    }
    if (Date.now() < box.backoffUntil) { this.stats.droppedSend += list.length; return }
    const small = list.filter(m => m.type !== 'snap')
    if (small.length > 0) this.push(box, encodeMessagesFrame(small), small.length)
    for (const m of list) if (m.type === 'snap') this.pushSnapshot(box, m)
    this.pump(box)
  }

  private push (box: Outbox, bytes: Uint8Array, count: number): void {
    if (box.frames.length >= this.maxQueuedFrames || bytes.byteLength > this.maxFrameBytes) {
      this.stats.droppedSend += count
      if (bytes.byteLength > this.maxFrameBytes) this.log.warn('dropped a frame of %d bytes to %s: over maxFrameBytes %d', bytes.byteLength, box.peer, this.maxFrameBytes)
      return
    }
    box.frames.push({ bytes, count })
  }

  /** A snapshot replaces any earlier one still being sent (the core sends one at a time). */
  private pushSnapshot (box: Outbox, m: Message): void {
    const whole = encodeMessagesFrame([m])
    const id = ++this.chunkIds
    const chunks: Uint8Array[] = []
    for (let off = 0, seq = 0; off < whole.byteLength; off += this.chunkBytes, seq++) {
      const end = Math.min(whole.byteLength, off + this.chunkBytes)
      chunks.push(encodeChunkFrame(id, seq, end === whole.byteLength, whole.subarray(off, end)))
    }
    if (box.chunks.length > 0) this.stats.droppedSend++
    box.chunks = chunks
    box.chunkCount = 1
  }

  private pump (box: Outbox): void {
    if (box.pumping) return
    box.pumping = true
    this.drain(box).catch((err: unknown) => {
      this.log.debug('raft stream to %s failed: %s', box.peer, errorMessage(err))
    }).finally(() => {
      box.pumping = false
      if (this.started && (box.frames.length > 0 || box.chunks.length > 0) && Date.now() >= box.backoffUntil) this.pump(box)
    })
  }

  private async drain (box: Outbox): Promise<void> {
    while (this.started && (box.frames.length > 0 || box.chunks.length > 0)) {
      const lp = box.stream ?? await this.open(box)
      if (lp === undefined) return
      // Alternate: every queued small frame, then one snapshot chunk.
      const frame = box.frames.shift()
      const chunk = frame === undefined ? box.chunks.shift() : undefined
      const bytes = frame?.bytes ?? chunk!
      try {
        await lp.write(bytes)
      } catch (err) {
        this.stats.droppedSend += frame?.count ?? 1
        if (chunk !== undefined) box.chunks = []
        this.resetStream(box, err as Error)
        continue
      }
      this.stats.framesSent++
      if (frame !== undefined) this.stats.messagesSent += frame.count
      if (chunk !== undefined && box.chunks.length === 0) { this.stats.snapshotsSent++; this.stats.messagesSent++ }
    }
  }

  private async open (box: Outbox): Promise<LengthPrefixedStream<Stream> | undefined> {
    let peerId: PeerId
    try {
      peerId = peerIdFromString(box.peer)
    } catch {
      this.dropAll(box)
      box.backoffUntil = Number.POSITIVE_INFINITY
      this.log.warn('member %s is not a peer id: messages to it are dropped', box.peer)
      return undefined
    }
    try {
      const raw = await this.node.dialProtocol(peerId, this.protocol, { signal: AbortSignal.timeout(this.dialTimeoutMs) })
      box.raw = raw
      box.stream = lpStream(raw, { maxDataLength: this.maxFrameBytes, maxBufferSize: this.maxFrameBytes + 16 })
      // The remote never writes on our outbound stream; a close or reset means it is gone.
      raw.addEventListener('close', () => { if (box.raw === raw) { box.raw = undefined; box.stream = undefined } })
      return box.stream
    } catch (err) {
      this.stats.dialFailures++
      this.dropAll(box)
      box.backoffUntil = Date.now() + this.backoffMs
      this.log.debug('cannot open a raft stream to %s: %s', box.peer, errorMessage(err))
      return undefined
    }
  }

  private dropAll (box: Outbox): void {
    for (const f of box.frames) this.stats.droppedSend += f.count
    this.stats.droppedSend += box.chunkCount > 0 && box.chunks.length > 0 ? 1 : 0
    box.frames = []
    box.chunks = []
  }

  private resetStream (box: Outbox, err: Error): void {
    box.raw?.abort(err)
    box.raw = undefined
    box.stream = undefined
  }

  private closeOutbox (box: Outbox): void {
    this.dropAll(box)
    this.resetStream(box, new Error('raft transport closed the stream'))
  }

  /** An inbound stream: the sender is whoever the connection authenticated. */
  private accept (stream: Stream, connection: Connection): void {
    const from = connection.remotePeer.toString()
    if (!this.members.has(from)) {
      this.stats.droppedNonMember++
      stream.abort(new Error(`${from} is not a member of this raft group`))
      return
    }
    this.inbound.add(stream)
    this.read(stream, from).catch((err: unknown) => {
      this.log.debug('raft stream from %s ended: %s', from, errorMessage(err))
    }).finally(() => { this.inbound.delete(stream) })
  }

  private async read (stream: Stream, from: NodeId): Promise<void> {
    const lp = lpStream(stream, { maxDataLength: this.maxFrameBytes, maxBufferSize: this.maxFrameBytes + 16 })
    let chunks: { id: number, next: number, parts: Uint8Array[], bytes: number } | undefined
    while (this.started) {
      const frame = (await lp.read()).subarray()
      let decoded
      try {
        decoded = decodeFrame(frame, from, this.self, this.limits)
      } catch (err) {
        this.stats.decodeErrors++
        this.log.warn('bad raft frame from %s: %s', from, errorMessage(err))
        stream.abort(err as Error)
        return
      }
      let messages: Message[]
      if (decoded.kind === 'chunk') {
        if (decoded.seq === 0) chunks = { id: decoded.id, next: 0, parts: [], bytes: 0 }
        if (chunks === undefined || chunks.id !== decoded.id || chunks.next !== decoded.seq) { chunks = undefined; continue }
        chunks.parts.push(decoded.bytes.slice())
        chunks.bytes += decoded.bytes.byteLength
        chunks.next++
        if (chunks.bytes > this.limits.maxSnapshotBytes + 1024) {
          this.stats.decodeErrors++
          this.log.warn('snapshot from %s exceeds maxSnapshotBytes %d: dropped', from, this.limits.maxSnapshotBytes)
          chunks = undefined
          continue
        }
        if (!decoded.last) continue
        const whole = concat(chunks.parts, chunks.bytes)
        chunks = undefined
        try {
          const inner = decodeFrame(whole, from, this.self, this.limits)
          if (inner.kind !== 'messages') throw new TypeError('a chunked frame must hold messages')
          messages = inner.messages
          this.stats.snapshotsReceived++
        } catch (err) {
          this.stats.decodeErrors++
          this.log.warn('bad chunked raft frame from %s: %s', from, errorMessage(err))
          continue
        }
      } else {
        messages = decoded.messages
      }
      // Membership may have changed since the stream opened.
      if (!this.members.has(from)) { this.stats.droppedNonMember += messages.length; continue }
      for (const m of messages) {
        this.stats.messagesReceived++
        this.onMessage?.(m)
      }
    }
  }
}

function concat (parts: Uint8Array[], n: number): Uint8Array {
  const out = new Uint8Array(n)
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.byteLength }
  return out
}

function positive (name: string, v: number): number {
  if (!Number.isInteger(v) || v <= 0) throw new InvalidParametersError(name, v, 'a positive integer')
  return v
}

/** Creates the libp2p Raft transport for `node` (see Libp2pRaftTransport). */
export function libp2pRaftTransport (node: RaftLibp2p, init: Libp2pRaftTransportInit): Libp2pRaftTransport {
  return new Libp2pRaftTransport(node, init)
}
