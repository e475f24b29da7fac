/** Largest encoded event block `decodeEvent` and `merge` accept: 1 MiB (go-ds-crdt's MaxBatchDeltaSize). */
export const DEFAULT_MAX_BLOCK_BYTES = 1024 * 1024
/** Most parents one event may link to. */
export const DEFAULT_MAX_PARENTS = 1024
/** Most heads a heads message (`decodeHeads`) may carry. */
export const DEFAULT_MAX_HEADS = 1024
/** Largest heads message `decodeHeads` accepts: 64 KiB (1024 sha256 CIDs take 37 KiB). */
export const DEFAULT_MAX_HEADS_BYTES = 64 * 1024
/** Most events one `merge` may fetch before it gives up (bounds the memory a peer can make us spend). */
export const DEFAULT_MAX_MERGE_EVENTS = 1_000_000
/** Fetches one `merge` keeps in flight at once. */
export const DEFAULT_FETCH_CONCURRENCY = 8
/** Most entries `VectorClock.fromJSON` accepts. */
export const DEFAULT_MAX_CLOCK_ENTRIES = 100_000
/** Longest JSON text `VectorClock.fromJSON` parses: 8 MiB. */
export const DEFAULT_MAX_CLOCK_JSON_BYTES = 8 * 1024 * 1024
/** Longest node id, in UTF-16 code units. */
export const MAX_NODE_ID_LENGTH = 4096
/** Version of the heads message written by `encodeHeads`. */
export const HEADS_MESSAGE_VERSION = 1
