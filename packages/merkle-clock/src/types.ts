import type { Logger } from './logger.js'
import type { CID } from 'multiformats/cid'

/** How one clock or event stands to another. */
export type ClockOrder = 'before' | 'after' | 'equal' | 'concurrent'

export interface HashOptions {
  /**
   * `canonical`: sha256 of the DAG-CBOR array of `[id, counter]` pairs with counter > 0 in
   * code-point order. `python-json`: the seed's `get_hash()`, zeros included.
   *
   * @default 'canonical'
   */
  encoding?: 'canonical' | 'python-json'
}

/** `VectorClock.toJSON()`: the seed's `to_dict()` plus the canonical hash. */
export interface VectorClockJson {
  node_id: string
  /** Every entry, zeros included. */
  vector: Record<string, number>
  /** The python-json hash, as the seed's `merkle_root`. */
  merkle_root: string
  /** The canonical hash. */
  hash: string
}

export interface VectorClockFromJsonOptions {
  /**
   * Most entries accepted in `vector`.
   *
   * @default 100_000
   */
  maxEntries?: number
  /**
   * Longest JSON text accepted, in UTF-16 code units (when a string is passed).
   *
   * @default 8 MiB
   */
  maxBytes?: number
}

/** An event of a Merkle clock, as encoded in its dag-cbor block. */
export interface ClockEvent<T = unknown> {
  /** The heads the event was created on, sorted by CID bytes. */
  parents: CID[]
  /** Application data: anything dag-cbor encodes. */
  payload: T
  /** 1 for an event without parents, else 1 + the largest parent height. */
  height: number
}

/** An event with its address and encoding. */
export interface EventBlock<T = unknown> {
  cid: CID
  bytes: Uint8Array
  value: ClockEvent<T>
}

export interface AbortOptions {
  signal?: AbortSignal
}

/**
 * Where a Merkle clock keeps its event blocks. The clock puts an event only after all its
 * parents, so a store stays closed under ancestry even when a merge is cut short; a durable
 * store must keep that order.
 */
export interface BlockStore {
  get: (cid: CID, options?: AbortOptions) => Uint8Array | undefined | Promise<Uint8Array | undefined>
  put: (cid: CID, bytes: Uint8Array, options?: AbortOptions) => void | Promise<void>
  has: (cid: CID, options?: AbortOptions) => boolean | Promise<boolean>
}

/** Fetches a block from a remote peer; the clock verifies what it returns. */
export type FetchBlock = (cid: CID, options: AbortOptions) => Promise<Uint8Array | undefined> | Uint8Array | undefined

export type { Logger } from './logger.js'

export interface DecodeEventOptions {
  /**
   * Largest block accepted, in bytes.
   *
   * @default 1 MiB
   */
  maxBytes?: number
  /**
   * Most parents accepted.
   *
   * @default 1024
   */
  maxParents?: number
}

export interface DecodeHeadsOptions {
  /**
   * Largest message accepted, in bytes.
   *
   * @default 64 KiB
   */
  maxBytes?: number
  /**
   * Most heads accepted.
   *
   * @default 1024
   */
  maxHeads?: number
}

export interface MerkleClockInit {
  /**
   * Where event blocks are kept.
   *
   * @default new MemoryBlockStore()
   */
  store?: BlockStore
  /**
   * Heads to start from (events already in `store`), e.g. saved from `clock.heads`.
   *
   * @default []
   */
  heads?: CID[]
  /**
   * Largest event block accepted from `fetch` or the store, in bytes.
   *
   * @default 1 MiB
   */
  maxBlockBytes?: number
  /**
   * Most parents an event may have.
   *
   * @default 1024
   */
  maxParents?: number
  /**
   * Receives debug lines about merges.
   *
   * @default a no-op logger
   */
  logger?: Logger
}

export interface MergeOptions extends AbortOptions {
  /**
   * Fetches a missing event block from the peer whose heads are merged. Without it, merge
   * only succeeds when every event is in the store already.
   *
   * @default undefined
   */
  fetch?: FetchBlock
  /**
   * Fetches kept in flight at once.
   *
   * @default 8
   */
  concurrency?: number
  /**
   * Most events one merge may fetch; more throws `TooManyEventsError` and applies nothing.
   *
   * @default 1_000_000
   */
  maxEvents?: number
}

export interface MergeResult {
  /** The clock's heads after the merge, sorted by CID bytes. */
  heads: CID[]
  /** The events that were fetched and added, in causal order. */
  added: CID[]
}
