import { DecodeError } from '../errors.js'
import type { Message, MessageType } from '../types.js'
import { BinaryReader, BinaryWriter } from './binary.js'
import { DEFAULT_DECODE_LIMITS, readEntries, readSnapshotMeta, writeEntries, writeSnapshotMeta } from './entry-codec.js'
import type { DecodeLimits } from './entry-codec.js'

/** Version of the Raft wire frames; a reader refuses other versions with a DecodeError. */
export const WIRE_VERSION = 1

/** Frame kinds: a batch of messages, or one chunk of a large message (a snapshot). */
export const FRAME_MESSAGES = 1
export const FRAME_CHUNK = 2

const TYPES: readonly MessageType[] = ['app', 'appResp', 'vote', 'voteResp', 'preVote', 'preVoteResp', 'heartbeat', 'heartbeatResp', 'snap', 'prop', 'readIndex', 'readIndexResp', 'transferLeader', 'timeoutNow']

const F_INDEX = 1
const F_LOG_TERM = 2
const F_COMMIT = 4
const F_ENTRIES = 8
const F_REJECT = 16
const F_HINT = 32
const F_SNAPSHOT = 64
const F_CONTEXT = 128

export interface WireLimits extends DecodeLimits {
  /** Largest snapshot payload accepted in a message. */
  maxSnapshotBytes: number
}

export const DEFAULT_WIRE_LIMITS: WireLimits = { ...DEFAULT_DECODE_LIMITS, maxSnapshotBytes: 1 << 30 }

/** One message without `from`/`to`: the sender is the authenticated connection, the receiver is us. */
export function writeMessage (w: BinaryWriter, m: Message): void {
  const t = TYPES.indexOf(m.type)
  if (t < 0) throw new TypeError(`cannot encode message type ${String(m.type)}`)
  let flags = 0
  if (m.index !== undefined) flags |= F_INDEX
  if (m.logTerm !== undefined) flags |= F_LOG_TERM
  if (m.commit !== undefined) flags |= F_COMMIT
  if (m.entries !== undefined) flags |= F_ENTRIES
  if (m.reject !== undefined) flags |= F_REJECT
  if (m.rejectHint !== undefined) flags |= F_HINT
  if (m.snapshot !== undefined) flags |= F_SNAPSHOT
  if (m.context !== undefined) flags |= F_CONTEXT
  w.u8(t).uvarint(m.term).u8(flags)
  if (m.index !== undefined) w.uvarint(m.index)
  if (m.logTerm !== undefined) w.uvarint(m.logTerm)
  if (m.commit !== undefined) w.uvarint(m.commit)
  if (m.entries !== undefined) writeEntries(w, m.entries)
  if (m.reject !== undefined) w.u8(m.reject ? 1 : 0)
  if (m.rejectHint !== undefined) w.uvarint(m.rejectHint)
  if (m.snapshot !== undefined) {
    writeSnapshotMeta(w, m.snapshot.meta)
    w.bytes(m.snapshot.data)
  }
  if (m.context !== undefined) w.string(m.context)
}

export function readMessage (r: BinaryReader, from: string, to: string, limits: WireLimits): Message {
  const t = r.u8()
  const type = TYPES[t]
  if (type === undefined) r.fail(`unknown message type ${t}`)
  const m: Message = { type, from, to, term: r.uvarint() }
  const flags = r.u8()
  if ((flags & F_INDEX) !== 0) m.index = r.uvarint()
  if ((flags & F_LOG_TERM) !== 0) m.logTerm = r.uvarint()
  if ((flags & F_COMMIT) !== 0) m.commit = r.uvarint()
  if ((flags & F_ENTRIES) !== 0) m.entries = readEntries(r, limits)
  if ((flags & F_REJECT) !== 0) {
    const b = r.u8()
    if (b > 1) r.fail(`reject flag ${b} is not 0 or 1`)
    m.reject = b === 1
  }
  if ((flags & F_HINT) !== 0) m.rejectHint = r.uvarint()
  if ((flags & F_SNAPSHOT) !== 0) {
    const meta = readSnapshotMeta(r, limits)
    m.snapshot = { meta, data: r.bytes(limits.maxSnapshotBytes).slice() }
  }
  if ((flags & F_CONTEXT) !== 0) m.context = r.string(limits.maxIdBytes)
  return m
}

/** A frame carrying messages to one peer (all of one Ready's messages for it, in order). */
export function encodeMessagesFrame (messages: Message[]): Uint8Array {
  const w = new BinaryWriter(64)
  w.u8(WIRE_VERSION).u8(FRAME_MESSAGES).uvarint(messages.length)
  for (const m of messages) writeMessage(w, m)
  return w.finish()
}

/** A chunk of a large encoded messages frame: `id` names the frame, `seq` counts from 0, `last` ends it. */
export function encodeChunkFrame (id: number, seq: number, last: boolean, bytes: Uint8Array): Uint8Array {
  const w = new BinaryWriter(bytes.byteLength + 24)
  w.u8(WIRE_VERSION).u8(FRAME_CHUNK).uvarint(id).uvarint(seq).u8(last ? 1 : 0).bytes(bytes)
  return w.finish()
}

export type DecodedFrame =
  | { kind: 'messages', messages: Message[] }
  | { kind: 'chunk', id: number, seq: number, last: boolean, bytes: Uint8Array }

/** Decodes one frame; every malformed input gives a DecodeError (never another exception). */
export function decodeFrame (buf: Uint8Array, from: string, to: string, limits: WireLimits = DEFAULT_WIRE_LIMITS): DecodedFrame {
  const r = new BinaryReader(buf, `raft frame from ${from}`)
  const version = r.u8()
  if (version !== WIRE_VERSION) r.fail(`unsupported wire version ${version} (this peer speaks ${WIRE_VERSION})`)
  const kind = r.u8()
  if (kind === FRAME_MESSAGES) {
    const n = r.uvarint()
    if (n > limits.maxEntries) r.fail(`${n} messages in one frame exceed ${limits.maxEntries}`)
    const messages: Message[] = []
    for (let i = 0; i < n; i++) messages.push(readMessage(r, from, to, limits))
    r.done()
    return { kind: 'messages', messages }
  }
  if (kind === FRAME_CHUNK) {
    const id = r.uvarint()
    const seq = r.uvarint()
    const last = r.u8()
    if (last > 1) r.fail(`last flag ${last} is not 0 or 1`)
    const bytes = r.bytes(buf.byteLength)
    r.done()
    return { kind: 'chunk', id, seq, last: last === 1, bytes }
  }
  throw new DecodeError(`raft frame from ${from}`, 1, `unknown frame kind ${kind}`)
}
