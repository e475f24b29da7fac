/**
 * @packageDocumentation
 *
 * Raft for the p2p-mcp control plane: a deterministic core (no I/O, timers, clock or
 * randomness of its own) with PreVote, CheckQuorum, flow-controlled pipelined replication,
 * fast backtracking, ReadIndex, leadership transfer, single-server membership changes with
 * learners and snapshots, driven through an etcd-style ready/advance interface; an async
 * node loop with storage and transport interfaces; durable file storage (`/node`: a
 * checksummed segmented WAL, snapshots, compaction); a libp2p transport (`/libp2p`); a seeded
 * fault simulator for any state machine (`/sim`) and a linearizability checker (`/check`).
 * The root entry, `/sim` and `/check` have no runtime dependencies and use no Node APIs.
 */
export { RaftCore } from './core/raft-core.js'
export type { RaftStatus } from './core/raft-core.js'
export { MemoryStorage } from './storage/memory-storage.js'
export { RaftNode } from './raft-node.js'
export type { AppliedChange, LeaderChange, ProposeOptions, RaftNodeInit } from './raft-node.js'
export { MemoryNetwork } from './transport/memory-transport.js'
export {
  CompactedError, CorruptLogError, DataDirLockedError, DecodeError, DiskFullError, InvalidParametersError, NodeStoppedError, PayloadTooLargeError,
  ProposalDroppedError, RaftProtocolError, TimeoutError, UnavailableError
} from './errors.js'
export type {
  ConfChange, ConfState, Entry, HardState, LogReader, Logger, Message, MessageType, NodeId, RaftCoreInit, RaftStorage, RaftTransport,
  Ready, ReadState, Role, Snapshot, SnapshotMeta, StateMachine
} from './types.js'
