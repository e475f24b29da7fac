import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { DEFAULT_MAX_HEADS, DEFAULT_MAX_HEADS_BYTES, HEADS_MESSAGE_VERSION } from './constants.js'
import { InvalidHeadsError, errorMessage, describe } from './errors.js'
import { asEventCid, isEventCid, sortCids } from './event.js'
import type { DecodeHeadsOptions } from './types.js'

/**
 * Encodes a clock's heads for the wire (gossip, the `/p2p-mcp/clock/1.0.0` exchange): the
 * dag-cbor map `{ v: 1, heads: [CID...] }`, heads sorted by bytes.
 */
export function encodeHeads (heads: Iterable<CID>): Uint8Array {
  return dagCbor.encode({ v: HEADS_MESSAGE_VERSION, heads: sortCids([...heads].map(asEventCid)) })
}

/**
 * Decodes a heads message. Unknown fields are ignored; another `v` is refused. Throws
 * `InvalidHeadsError` (malformed, over `maxBytes` or `maxHeads`, a CID that is not an
 * event CID) and nothing else.
 */
export function decodeHeads (bytes: Uint8Array, options?: DecodeHeadsOptions): CID[] {
  const maxBytes = options?.maxBytes ?? DEFAULT_MAX_HEADS_BYTES
  const maxHeads = options?.maxHeads ?? DEFAULT_MAX_HEADS
  if (!(bytes instanceof Uint8Array)) throw new InvalidHeadsError('the message is not a Uint8Array')
  if (bytes.length > maxBytes) throw new InvalidHeadsError(`the message is ${bytes.length} bytes, over maxBytes ${maxBytes} (raise it with { maxBytes })`)
  let value: unknown
  try {
    value = dagCbor.decode(bytes)
  } catch (err) {
    throw new InvalidHeadsError(`not valid dag-cbor (${errorMessage(err)})`, { cause: err })
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || CID.asCID(value) !== null || value instanceof Uint8Array) {
    throw new InvalidHeadsError('not a map')
  }
  const { v, heads } = value as Record<string, unknown>
  if (v !== HEADS_MESSAGE_VERSION) throw new InvalidHeadsError(`version ${describe(v)} is not ${HEADS_MESSAGE_VERSION}`)
  if (!Array.isArray(heads)) throw new InvalidHeadsError('heads is not a list')
  if (heads.length > maxHeads) throw new InvalidHeadsError(`${heads.length} heads, over maxHeads ${maxHeads} (raise it with { maxHeads })`)
  const cids = heads.map((h, i) => {
    const cid = CID.asCID(h)
    if (cid === null || !isEventCid(cid)) throw new InvalidHeadsError(`head ${i} is not a dag-cbor sha2-256 CIDv1`)
    return cid
  })
  return sortCids(cids)
}
