import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { DEFAULT_MAX_BLOCK_BYTES, DEFAULT_MAX_PARENTS } from './constants.js'
import { BlockTooLargeError, HashMismatchError, InvalidEventError, UnsupportedCidError, errorMessage, describe } from './errors.js'
import type { ClockEvent, DecodeEventOptions, EventBlock } from './types.js'

/** Orders byte strings lexicographically, shorter first on a common prefix. */
export function compareBytes (a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i]! - b[i]!
  }
  return a.length - b.length
}

/** Orders CIDs by their bytes: the order of an event's parents and of a clock's heads. */
export function compareCids (a: CID, b: CID): number {
  return compareBytes(a.bytes, b.bytes)
}

/** True for a CIDv1 of a dag-cbor block with a 32-byte sha2-256 multihash. */
export function isEventCid (cid: CID): boolean {
  return cid.version === 1 && cid.code === dagCbor.code && cid.multihash.code === sha256.code && cid.multihash.size === 32
}

/** `value` as an event CID, or an `UnsupportedCidError`. */
export function asEventCid (value: unknown): CID {
  const cid = CID.asCID(value)
  if (cid === null || !isEventCid(cid)) throw new UnsupportedCidError(cid ?? value)
  return cid
}

/** Sorts CIDs by bytes and drops duplicates; returns a new array. */
export function sortCids (cids: Iterable<CID>): CID[] {
  const sorted = [...cids].sort(compareCids)
  return sorted.filter((c, i) => i === 0 || !c.equals(sorted[i - 1]))
}

async function digestOf (bytes: Uint8Array): Promise<Uint8Array> {
  // multiformats' sha256 is synchronous on Node (node:crypto) and a promise in browsers.
  const d = sha256.digest(bytes)
  return (d instanceof Promise ? await d : d).digest
}

/**
 * Encodes an event as a dag-cbor block `{ height, parents, payload }` addressed by its
 * sha2-256 CIDv1. `parents` is sorted by CID bytes first (and deduplicated), so the CID does
 * not depend on the order parents are given in.
 */
export async function encodeEvent<T> (payload: T, parents: Iterable<CID>, height: number): Promise<EventBlock<T>> {
  return encodeSortedEvent(payload, sortCids([...parents].map(asEventCid)), height)
}

/** `encodeEvent` for parents already checked and sorted (a clock's own heads). */
export async function encodeSortedEvent<T> (payload: T, sorted: CID[], height: number): Promise<EventBlock<T>> {
  const value: ClockEvent<T> = { parents: sorted, payload, height }
  let bytes: Uint8Array
  try {
    bytes = dagCbor.encode(value)
  } catch (err) {
    throw new InvalidEventError(`the payload cannot be encoded as dag-cbor (${errorMessage(err)}); use plain data: ` +
      'objects, arrays, strings, integers, finite floats, booleans, null, bytes, CIDs', { cause: err })
  }
  const hash = sha256.digest(bytes)
  const cid = CID.createV1(dagCbor.code, hash instanceof Promise ? await hash : hash)
  return { cid, bytes, value }
}

/**
 * Decodes and checks an event block: size, dag-cbor, shape (`parents` event CIDs strictly
 * ascending by bytes, at most `maxParents`; `height` a safe integer, 1 exactly when there
 * are no parents; `payload` present). Other fields are ignored (they are part of the bytes
 * the CID covers). Throws `BlockTooLargeError` or `InvalidEventError`, nothing else.
 */
export function decodeEvent<T = unknown> (bytes: Uint8Array, options?: DecodeEventOptions): ClockEvent<T> {
  const maxBytes = options?.maxBytes ?? DEFAULT_MAX_BLOCK_BYTES
  const maxParents = options?.maxParents ?? DEFAULT_MAX_PARENTS
  if (!(bytes instanceof Uint8Array)) throw new InvalidEventError('the block is not a Uint8Array')
  if (bytes.length > maxBytes) throw new BlockTooLargeError('event block', bytes.length, maxBytes, 'maxBytes')
  let value: unknown
  try {
    value = dagCbor.decode(bytes)
  } catch (err) {
    throw new InvalidEventError(`the block is not valid dag-cbor (${errorMessage(err)})`, { cause: err })
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || CID.asCID(value) !== null || value instanceof Uint8Array) {
    throw new InvalidEventError('the block is not a map')
  }
  const { parents, payload, height } = value as Record<string, unknown>
  if (!Object.hasOwn(value, 'payload')) throw new InvalidEventError('it has no payload field')
  if (!Array.isArray(parents)) throw new InvalidEventError('parents is not a list')
  if (parents.length > maxParents) throw new InvalidEventError(`it has ${parents.length} parents, over maxParents ${maxParents}`)
  for (let i = 0; i < parents.length; i++) {
    const cid = CID.asCID(parents[i])
    if (cid === null || !isEventCid(cid)) throw new InvalidEventError(`parent ${i} is not a dag-cbor sha2-256 CIDv1`)
    if (i > 0 && compareCids(parents[i - 1] as CID, cid) >= 0) throw new InvalidEventError('parents are not strictly ascending by CID bytes')
  }
  if (typeof height !== 'number' || !Number.isSafeInteger(height) || height < 1) throw new InvalidEventError(`height ${describe(height)} is not a positive safe integer`)
  if ((parents.length === 0) !== (height === 1)) throw new InvalidEventError(`height ${height} does not fit ${parents.length} parents`)
  return { parents: parents as CID[], payload: payload as T, height }
}

/**
 * Checks that `bytes` hash to `cid` (an event CID) and decodes them. Throws
 * `UnsupportedCidError`, `HashMismatchError`, `BlockTooLargeError` or `InvalidEventError`.
 */
export async function verifyEvent<T = unknown> (cid: CID, bytes: Uint8Array, options?: DecodeEventOptions): Promise<EventBlock<T>> {
  if (!isEventCid(cid)) throw new UnsupportedCidError(cid)
  if (!(bytes instanceof Uint8Array)) throw new InvalidEventError(`the block for ${cid.toString()} is not a Uint8Array`)
  const maxBytes = options?.maxBytes ?? DEFAULT_MAX_BLOCK_BYTES
  if (bytes.length > maxBytes) throw new BlockTooLargeError(`event block ${cid.toString()}`, bytes.length, maxBytes, 'maxBlockBytes')
  const digest = await digestOf(bytes)
  if (compareBytes(digest, cid.multihash.digest) !== 0) throw new HashMismatchError(cid.toString())
  return { cid, bytes, value: decodeEvent<T>(bytes, options) }
}
