/** A proposal or read was not accepted: no leader known, a transfer in progress, a pending config change, or the uncommitted limit hit. Retry later or elsewhere. */
export class ProposalDroppedError extends Error {
  override name = 'ProposalDroppedError'
  readonly code = 'ERR_PROPOSAL_DROPPED'

  constructor (reason: string) {
    super(`proposal dropped: ${reason}; retry after a leader is known (node.leader) or after the pending change commits`)
  }
}

/** The log was compacted past the requested index: send or restore a snapshot instead. */
export class CompactedError extends RangeError {
  override name = 'CompactedError'
  readonly code = 'ERR_COMPACTED'

  constructor (index: number, firstIndex: number) {
    super(`log index ${index} was compacted (first index is ${firstIndex}); use the snapshot`)
  }
}

/** The requested index is past the end of the log. */
export class UnavailableError extends RangeError {
  override name = 'UnavailableError'
  readonly code = 'ERR_UNAVAILABLE'

  constructor (index: number, lastIndex: number) {
    super(`log index ${index} is past the last index ${lastIndex}`)
  }
}

/** An option was out of range or of the wrong type. */
export class InvalidParametersError extends TypeError {
  override name = 'InvalidParametersError'
  readonly code = 'ERR_INVALID_PARAMETERS'

  constructor (option: string, value: unknown, expected: string) {
    super(`option ${option} = ${JSON.stringify(value)} is invalid: expected ${expected}`)
  }
}

/** A proposal or read did not complete in time; its outcome is unknown (it may still commit). */
export class TimeoutError extends Error {
  override name = 'TimeoutError'
  readonly code = 'ERR_TIMEOUT'

  constructor (what: string, ms: number) {
    super(`${what} did not complete within ${ms} ms; its outcome is unknown (it may still commit): read before retrying a non-idempotent write`)
  }
}

/** The node was stopped while the operation was pending. */
export class NodeStoppedError extends Error {
  override name = 'NodeStoppedError'
  readonly code = 'ERR_NODE_STOPPED'

  constructor () {
    super('the raft node was stopped; the operation\'s outcome is unknown')
  }
}

/** A payload exceeded the configured size limit. */
export class PayloadTooLargeError extends RangeError {
  override name = 'PayloadTooLargeError'
  readonly code = 'ERR_PAYLOAD_TOO_LARGE'

  constructor (bytes: number, limit: number) {
    super(`proposal of ${bytes} bytes exceeds maxProposalBytes ${limit} (raise it with { maxProposalBytes } or split the value)`)
  }
}

/** The core was used out of protocol (e.g. advance without ready). A bug in the host. */
export class RaftProtocolError extends Error {
  override name = 'RaftProtocolError'
  readonly code = 'ERR_RAFT_PROTOCOL'
}

/** Bytes from a peer or a file could not be decoded. Drop the message (or refuse the file); nothing else is affected. */
export class DecodeError extends Error {
  override name = 'DecodeError'
  readonly code = 'ERR_DECODE'
  readonly offset: number

  constructor (what: string, offset: number, reason: string) {
    super(`cannot decode ${what} at byte ${offset}: ${reason}`)
    this.offset = offset
  }
}

/**
 * A complete WAL record or snapshot failed its checksum, or the log has a hole: the data may
 * already have been acknowledged, so the node refuses to start rather than guess.
 */
export class CorruptLogError extends Error {
  override name = 'CorruptLogError'
  readonly code = 'ERR_CORRUPT_LOG'
  readonly file: string
  readonly offset: number

  constructor (file: string, offset: number, reason: string) {
    super(`${file} is corrupt at byte ${offset}: ${reason}. The node refuses to start: restore this member from a backup, or remove it from the cluster and add it back with an empty data directory (the other members replicate the log to it)`)
    this.file = file
    this.offset = offset
  }
}

/** The disk is full (ENOSPC): new proposals are refused until space is freed; the node stays up and retries the write. */
export class DiskFullError extends Error {
  override name = 'DiskFullError'
  readonly code = 'ERR_DISK_FULL'

  constructor (path: string, options?: ErrorOptions) {
    super(`no space left on the device holding ${path}: proposals are refused until space is freed (the node keeps running and retries its pending write)`, options)
  }
}

/** Another process (or another storage in this process) holds the data directory's lock. */
export class DataDirLockedError extends Error {
  override name = 'DataDirLockedError'
  readonly code = 'ERR_DATA_DIR_LOCKED'

  constructor (dir: string, pid: number, self: boolean) {
    super(`data directory ${dir} is locked by process ${pid}${self ? ' (this process)' : ''}: stop that node first, or give this one another directory`)
  }
}

/** The message of anything thrown (an `Error`'s message, else its string form). */
export function errorMessage (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
