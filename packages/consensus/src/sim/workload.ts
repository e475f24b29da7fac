import type { Operation } from '../check/linearizability.js'
import type { StateMachine } from '../types.js'

/**
 * What the simulator replicates and how clients drive it: any state machine with the
 * `StateMachine` interface, a generator of client operations, and a check of the history.
 * `kvWorkload` (a key-value store with get/put/append/cas, checked for linearizability) is
 * the default; the scheduler's state machine is another.
 */
export interface SimWorkload<I, O> {
  /** A fresh replica (at start, for new members, and on restart before the snapshot is restored). */
  createStateMachine(): StateMachine
  /** The next operation of `client` (`seq` counts operations issued); draw randomness only from `rng`. */
  nextOp(client: number, rng: () => number, seq: number): I
  /** Reads go through ReadIndex and are answered by `read`; everything else is proposed. */
  isRead(input: I): boolean
  /** The log payload of a write. */
  encode(input: I): Uint8Array
  /** Answers a read from a replica that has applied everything up to the read index. */
  read(sm: StateMachine, input: I): O
  /** Turns what `StateMachine.apply` returned for a write into the client's output. */
  output(result: unknown, input: I): O
  /** A write the liveness phase must commit once every fault is healed. */
  probe(seed: number): I
  /**
   * Checks the history after a run (operations whose outcome stayed unknown have
   * `return === Infinity` and no output; unknown writes applied nowhere are left out).
   * `ok: 'unknown'` when the check gave up; a `violation` text when `ok` is false.
   */
  check?(history: Array<Operation<I, O>>, options: { timeoutMs: number }): { ok: boolean | 'unknown', violation?: string | undefined }
}
