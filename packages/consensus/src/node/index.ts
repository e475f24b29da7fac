/**
 * @packageDocumentation
 *
 * Node-only storage for `@p2p-mcp/consensus`: `FileStorage`, a segmented write-ahead log
 * with CRC-32C records, one fdatasync per batch, torn-tail truncation, corruption detection
 * naming the file and offset, full-disk handling, snapshots written atomically, compaction
 * and a data-directory lock.
 */
export { FileStorage, DEFAULT_MAX_RECORD_BYTES, DEFAULT_SEGMENT_BYTES, WAL_VERSION } from './file-storage.js'
export type { FileStorageInit, FileStorageStats } from './file-storage.js'
export { CorruptLogError, DataDirLockedError, DiskFullError } from '../errors.js'
