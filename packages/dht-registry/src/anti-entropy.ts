import { lpStream } from '@libp2p/utils'
import { MAX_SYNC_REQUEST_BYTES, RECORD_VERSION } from './constants.js'
import { MalformedRecordError } from './errors.js'
import type { Logger } from './logger.js'
import type { AbortOptions, PeerId, Stream } from '@libp2p/interface'

/**
 * Anti-entropy for the registry: one peer sends a digest of the provider set it knows (peer id
 * and content hash of every live provider, itself included); when the other's digest differs it
 * answers with the signed records of every provider it knows, the asker verifies them like any
 * gossip and keeps what is newer. Repairs an announcement that gossip lost, and gives a joining
 * peer the whole mesh in one round trip.
 *
 * Wire (`/p2p-mcp/registry-sync/1.0.0`, varint-length-prefixed frames): request
 * `{"v":1,"digest":"<hex>"}` (UTF-8 JSON, at most 256 bytes); response `{"v":1,"same":true}`
 * or `{"v":1,"count":k}` followed by k frames, each a signed record as on the gossip topic.
 */

/** What the sync protocol reads from and writes into the registry. */
export interface SyncSource {
  /** Digest of the live provider set (hex). */
  digest: () => string
  /** Signed record bytes of every live provider, this peer included. */
  records: () => Uint8Array[]
  /** Verifies and takes records from `from`; returns how many were new. */
  ingest: (records: Uint8Array[], from: string) => Promise<number>
}

export interface SyncLimits {
  maxRecordBytes: number
  maxRecords: number
  timeoutMs: number
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** 53-bit string hash (cyrb53): cheap, synchronous and portable; the digest only decides whether to send the full set. */
export function hash53 (s: string, seed = 0): number {
  let h1 = 0xdeadbeef ^ seed
  let h2 = 0x41c6ce57 ^ seed
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i)
    h1 = Math.imul(h1 ^ ch, 2654435761)
    h2 = Math.imul(h2 ^ ch, 1597334677)
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909)
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909)
  return 4294967296 * (2097151 & h2) + (h1 >>> 0)
}

/** Digest of a provider set given as `peerId → content hash`: order-independent. */
export function setDigest (entries: Iterable<[string, number]>): string {
  const lines: string[] = []
  for (const [peerId, content] of entries) lines.push(`${peerId}:${content}`)
  lines.sort()
  const joined = lines.join('\n')
  return `${lines.length}-${hash53(joined, 1).toString(16)}-${hash53(joined, 2).toString(16)}`
}

/** A peer-sent JSON value for an error message: String() of an object whose toString is data (`{"toString":1}`) throws. */
function shown (value: unknown): string {
  return typeof value === 'object' && value !== null ? (Array.isArray(value) ? 'an array' : 'an object') : String(value)
}

/** Decodes one sync request or response header: a JSON object of version 1, or `MalformedRecordError`. */
export function parseSyncMessage (bytes: Uint8Array, what: string): Record<string, unknown> {
  let value: unknown
  try {
    value = JSON.parse(decoder.decode(bytes))
  } catch (err) {
    throw new MalformedRecordError(`${what} is not JSON`, { cause: err })
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new MalformedRecordError(`${what} is not a JSON object`)
  const v = (value as Record<string, unknown>).v
  if (v !== RECORD_VERSION) throw new MalformedRecordError(`${what} has version ${shown(v)}, not ${RECORD_VERSION}`)
  return value as Record<string, unknown>
}

/** Answers one anti-entropy request on an inbound stream. */
export async function serveSync (stream: Stream, source: SyncSource, limits: SyncLimits, log: Logger): Promise<void> {
  const lp = lpStream(stream, { maxDataLength: MAX_SYNC_REQUEST_BYTES })
  const signal = AbortSignal.timeout(limits.timeoutMs)
  try {
    const req = parseSyncMessage((await lp.read({ signal })).subarray(), 'sync request')
    if (req.digest === source.digest()) {
      await lp.write(encoder.encode(JSON.stringify({ v: RECORD_VERSION, same: true })), { signal })
    } else {
      const records = source.records().slice(0, limits.maxRecords)
      await lp.write(encoder.encode(JSON.stringify({ v: RECORD_VERSION, count: records.length })), { signal })
      for (const r of records) await lp.write(r, { signal })
    }
    await stream.close({ signal })
  } catch (err) {
    log.debug('sync request from %s not answered: %s', stream.id, err instanceof Error ? err.message : String(err))
    stream.abort(err instanceof Error ? err : new Error(String(err)))
  }
}

/** What one anti-entropy round did. */
export interface SyncRoundResult {
  same: boolean
  received: number
  accepted: number
  bytes: number
}

/** Opens a stream to `peer`, compares digests and takes what the peer has that this one lacks. */
export async function pullSync (
  open: (peer: PeerId, options: AbortOptions) => Promise<Stream>, peer: PeerId, source: SyncSource, limits: SyncLimits, options: AbortOptions = {},
): Promise<SyncRoundResult> {
  const signal = options.signal === undefined ? AbortSignal.timeout(limits.timeoutMs) : AbortSignal.any([options.signal, AbortSignal.timeout(limits.timeoutMs)])
  const stream = await open(peer, { signal })
  try {
    const lp = lpStream(stream, { maxDataLength: limits.maxRecordBytes })
    await lp.write(encoder.encode(JSON.stringify({ v: RECORD_VERSION, digest: source.digest() })), { signal })
    const header = await lp.read({ signal })
    let bytes = header.byteLength
    const res = parseSyncMessage(header.subarray(), 'sync response')
    if (res.same === true) {
      await stream.close({ signal })
      return { same: true, received: 0, accepted: 0, bytes }
    }
    const count = res.count
    if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0 || count > limits.maxRecords) {
      throw new MalformedRecordError(`sync response count ${shown(count)} is not an integer in 0..${limits.maxRecords}`)
    }
    const records: Uint8Array[] = []
    for (let i = 0; i < count; i++) {
      const r = (await lp.read({ signal })).subarray()
      bytes += r.byteLength
      records.push(r)
    }
    await stream.close({ signal })
    const accepted = await source.ingest(records, peer.toString())
    return { same: false, received: count, accepted, bytes }
  } catch (err) {
    stream.abort(err instanceof Error ? err : new Error(String(err)))
    throw err
  }
}
