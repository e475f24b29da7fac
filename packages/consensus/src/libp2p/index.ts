/**
 * @packageDocumentation
 *
 * Raft over libp2p for `@p2p-mcp/consensus`: protocol `/p2p-mcp/raft/1.0.0`, one long-lived
 * stream per peer pair, versioned binary frames with size limits and typed decode errors, a
 * bounded per-peer send queue that drops and counts, the sender authenticated by the
 * connection, non-members dropped and counted, snapshots sent in chunks.
 */
export {
  Libp2pRaftTransport, libp2pRaftTransport, RAFT_PROTOCOL, DEFAULT_MAX_FRAME_BYTES, DEFAULT_MAX_QUEUED_FRAMES, DEFAULT_SNAPSHOT_CHUNK_BYTES, DEFAULT_MAX_SNAPSHOT_BYTES
} from './transport.js'
export type { Libp2pRaftTransportInit, Libp2pRaftTransportStats, RaftLibp2p } from './transport.js'
export { decodeFrame, encodeMessagesFrame, WIRE_VERSION } from '../codec/message-codec.js'
export type { DecodedFrame, WireLimits } from '../codec/message-codec.js'
export { DecodeError } from '../errors.js'
