/**
 * The module interface of the control plane's replicated state machine. This is the contract
 * with the scheduler (`CONTRACT-control-scheduler.md`): a module only has this shape and never
 * imports consensus or mcp-node.
 */

/** Passed by the control plane to every module's apply(); everything in it comes from the log. */
export interface ApplyContext {
  /** Raft log index of the entry being applied. */
  readonly index: number
  /**
   * Log time in ms: the timestamp the leader put in the entry's envelope, made monotonic
   * (max(previous timeMs, proposed)). Modules never read a clock of their own.
   */
  readonly timeMs: number
  /**
   * The entry's command version (`cv`, at most the module's `version`): a module that changed
   * its commands decodes each entry as the release that wrote it did. Absent: 1.
   */
  readonly commandVersion?: number
}

export interface ReplicatedModule {
  /** Namespace of its commands in the log, e.g. 'scheduler', 'policy', 'kv', 'members'. */
  readonly name: string
  /**
   * Highest command version this module understands; a command with a higher `v` halts the
   * replica with a clear error instead of diverging.
   */
  readonly version: number
  /**
   * Deterministic. `command` is untrusted log data: validate it and return a typed rejection
   * result rather than throw for bad commands. The return value goes back to the proposer.
   * Never reads a clock, randomness or gossip.
   */
  apply(command: unknown, ctx: ApplyContext): unknown
  /**
   * Called when a `tick` entry is applied (the leader proposes one every tickIntervalMs,
   * default 1000, so leases can expire without traffic).
   */
  tick?(ctx: ApplyContext): void
  snapshot(): Uint8Array
  restore(data: Uint8Array): void
}

/** The log envelope of every control-plane entry (JSON, UTF-8). */
export interface Envelope {
  /** Envelope version: 1. */
  v: number
  /** Request id, chosen by the proposer and kept across retries: applied once. */
  id: string
  /** Module name, or `$tick` for a leader tick. */
  module: string
  /** Command version of the module. */
  cv: number
  /** Leader clock (ms since the epoch) when a leader proposed it; 0 from a non-leader. */
  at: number
  cmd: unknown
}

/** A typed rejection: what modules return for a command they refuse (never thrown). */
export interface Rejection {
  ok: false
  error: { name: string, message: string }
}

export function reject (name: string, message: string): Rejection {
  return { ok: false, error: { name, message } }
}

/** True for the `{ ok: false, error }` shape modules return. */
export function isRejection (value: unknown): value is Rejection {
  return typeof value === 'object' && value !== null && (value as { ok?: unknown }).ok === false &&
    typeof (value as { error?: { name?: unknown } }).error?.name === 'string'
}

/** Roles of a mesh member in the control plane. */
export type MemberRole = 'voter' | 'learner' | 'client'
