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
export class InvalidConfigError extends TypeError {
  override name = 'InvalidConfigError'
  readonly code = 'ERR_INVALID_CONFIG'

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
