/**
 * @packageDocumentation
 *
 * Causality that every peer computes the same way. `VectorClock` is the IPFS Accelerate
 * seed's clock API done right: `merge` is a join, `update` is the seed's merge-then-tick,
 * the canonical hash is equal for equal clocks, and `hash({ encoding: 'python-json' })` is
 * byte-for-byte the seed's `get_hash()`. `MerkleClock` is the Merkle-CRDT clock: a
 * content-addressed DAG of dag-cbor events (sha2-256 CIDs) whose heads are the clock,
 * merged by fetching and verifying only the missing events.
 */
export { VectorClock } from './vector-clock.js'
export { MerkleClock } from './merkle-clock.js'
export { MemoryBlockStore } from './block-store.js'
export { compareCids, decodeEvent, encodeEvent, isEventCid, verifyEvent } from './event.js'
export { decodeHeads, encodeHeads } from './heads.js'
export {
  BlockTooLargeError,
  ClockHashMismatchError,
  FetchError,
  HashMismatchError,
  InvalidClockJsonError,
  InvalidCounterError,
  InvalidEventError,
  InvalidHeadsError,
  InvalidNodeIdError,
  InvalidParametersError,
  TooManyEventsError,
  UnknownEventError,
  UnsupportedCidError,
} from './errors.js'
export {
  DEFAULT_FETCH_CONCURRENCY,
  DEFAULT_MAX_BLOCK_BYTES,
  DEFAULT_MAX_CLOCK_ENTRIES,
  DEFAULT_MAX_CLOCK_JSON_BYTES,
  DEFAULT_MAX_HEADS,
  DEFAULT_MAX_HEADS_BYTES,
  DEFAULT_MAX_MERGE_EVENTS,
  DEFAULT_MAX_PARENTS,
} from './constants.js'
export type {
  AbortOptions,
  BlockStore,
  ClockEvent,
  ClockOrder,
  DecodeEventOptions,
  DecodeHeadsOptions,
  EventBlock,
  FetchBlock,
  HashOptions,
  Logger,
  MergeOptions,
  MergeResult,
  MerkleClockInit,
  VectorClockFromJsonOptions,
  VectorClockJson,
} from './types.js'
