/** Errors of the control plane. Told apart by `name`; `code` crosses the wire. */

/** No quorum is reachable: writes (and linearizable reads) are refused; the data plane keeps serving. */
export class NoQuorumError extends Error {
  override readonly name = 'NoQuorumError'
  readonly code = 'ERR_CONTROL_NO_QUORUM'
  readonly reachable: string[]
  readonly unreachable: string[]
  readonly needed: number
  constructor (what: string, detail: { reachable: string[], unreachable: string[], needed: number, leader?: string }, options?: ErrorOptions) {
    super(`${what} refused: no quorum of the control plane is reachable from this peer (${detail.reachable.length} of the ${detail.needed} voters needed; ` +
      `unreachable: ${detail.unreachable.length === 0 ? 'none known' : detail.unreachable.map((p) => p.slice(-8)).join(', ')}; leader: ${detail.leader === undefined || detail.leader === '' ? 'none' : detail.leader.slice(-8)}). ` +
      'Tool calls keep working; retry the write once the partition heals or the voters are back', options)
    this.reachable = detail.reachable
    this.unreachable = detail.unreachable
    this.needed = detail.needed
  }
}

/** The replica met a log entry it cannot apply (a newer envelope or command version, an unknown module) and stopped applying. */
export class ControlPlaneHaltedError extends Error {
  override readonly name = 'ControlPlaneHaltedError'
  readonly code = 'ERR_CONTROL_HALTED'
  readonly index: number
  constructor (index: number, reason: string) {
    super(`the control-plane replica halted at log index ${index}: ${reason}. Upgrade this peer to a release that knows this command; tool calls keep working with the last applied policy`)
    this.index = index
  }
}

/** A control message or data directory belongs to another cluster: two groups never merge. */
export class ClusterMismatchError extends Error {
  override readonly name = 'ClusterMismatchError'
  readonly code = 'ERR_CONTROL_CLUSTER_MISMATCH'
  constructor (ours: string, theirs: string, from: string) {
    super(`control message from ${from} is for cluster ${theirs}, this peer is in cluster ${ours}; ` +
      'the two groups stay apart (wipe this peer\'s data directory to join the other one, or use force-new-cluster)')
  }
}

/** A control-protocol frame or a log entry was malformed or too large. */
export class ControlDecodeError extends Error {
  override readonly name = 'ControlDecodeError'
  readonly code = 'ERR_CONTROL_DECODE'
}

/** The control plane is not running on this peer (turned off, not joined yet, or stopped). */
export class ControlPlaneUnavailableError extends Error {
  override readonly name = 'ControlPlaneUnavailableError'
  readonly code = 'ERR_CONTROL_UNAVAILABLE'
}

/** A command the state machine refused (the rejection it returned, raised at the caller). */
export class CommandRejectedError extends Error {
  override readonly name: string
  readonly code = 'ERR_CONTROL_REJECTED'
  constructor (name: string, message: string) {
    super(message)
    this.name = name
  }
}
